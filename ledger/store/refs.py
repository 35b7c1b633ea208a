"""The one place where a ref moves: compare-and-swap under git's lock file, with retries."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from dulwich.file import FileLocked, GitFile
from dulwich.objects import ObjectID
from dulwich.refs import DiskRefsContainer, Ref

from ledger.errors import ConcurrencyError

ZERO_SHA = b"0" * 40
MAX_TRIES = 200
MAX_BACKOFF = 0.05  # seconds


class Refs:
    """Read refs and move them only by compare-and-swap."""

    def __init__(self, common_dir: Path) -> None:
        self._refs = DiskRefsContainer(str(common_dir))

    def get(self, name: bytes) -> bytes | None:
        try:
            return self._refs[Ref(name)]
        except KeyError:
            return None

    def names(self, prefix: bytes) -> list[bytes]:
        return sorted(prefix + n for n in self._refs.keys(base=Ref(prefix.rstrip(b"/"))))

    def swap(self, name: bytes, old: bytes | None, new: bytes) -> bool:
        """Set `name` to `new` only if it still points at `old` (None: does not exist).

        The same protocol as git and dulwich (take `<ref>.lock` exclusively, re-read the ref
        under the lock, write, rename) without the fsync: git does not fsync loose refs by
        default either, and an fsync per commit would cost more than the commit itself.
        """
        refs = self._refs
        ref = Ref(name)
        refs._check_refname(ref)
        path = refs.refpath(ref)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            f = GitFile(path, "wb", fsync=False)
        except FileLocked:
            return False
        try:
            current: bytes | None = refs._read_loose_ref_file(ref)
            if current is None:
                current = refs.get_packed_refs().get(ref)
            if current != old:
                f.abort()
                return False
            f.write(new + b"\n")
        except BaseException:
            f.abort()
            raise
        f.close()
        return True

    def delete(self, name: bytes, old: bytes) -> bool:
        try:
            return bool(self._refs.remove_if_equals(Ref(name), ObjectID(old)))
        except FileLocked:
            return False

    def update(
        self,
        name: bytes,
        build: Callable[[bytes | None], bytes | None],
        tries: int = MAX_TRIES,
    ) -> bytes | None:
        """Move `name` to `build(current)`, rebuilding on every lost race.

        `build` returns the new target, or None (or the current value) to leave the ref as is.
        Gives up with ConcurrencyError after `tries` lost races, never overwriting a writer.
        """
        for attempt in range(tries):
            old = self.get(name)
            new = build(old)
            if new is None or new == old:
                return old
            if self.swap(name, old, new):
                return new
            time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.001 * 2 ** min(attempt, 8))))
        raise ConcurrencyError(
            f"could not update {name.decode()}: {tries} concurrent updates won the race; "
            "try again"
        )
