"""The one place where a ref moves: compare-and-swap under git's lock file, with retries.

Writers of one ref on this machine first queue on a flock (`.git/ledger/locks/`), so that they
take turns instead of racing: a writer builds its commit on the head it will replace, and a
lost race (against a plain `git update-ref`, or a ledger without flock) only costs a rebuild.
The flock schedules; the compare-and-swap under `<ref>.lock` is what keeps every update (P2).

A stale `<ref>.lock` (its holder died between creating and renaming it) is cleared by the one
rule git's own advice amounts to ("if no other git process is running, remove the file"):
git and the ledger hold a ref lock only for the milliseconds of one update, and ledger writers
hold the flock while they do, so a ref lock older than `STALE_LOCK_SECONDS` that we find while
holding the flock has no live holder.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

from dulwich.file import FileLocked, GitFile
from dulwich.objects import ObjectID
from dulwich.refs import DiskRefsContainer, Ref

from ledger.errors import ConcurrencyError, UnsupportedRepositoryError
from ledger.store.flock import FileLock

ZERO_SHA = b"0" * 40
MAX_TRIES = 200
MAX_BACKOFF = 0.05  # seconds
STALE_LOCK_SECONDS = float(os.environ.get("LEDGER_STALE_LOCK_SECONDS", "10"))
# give up on a live lock after this long
LOCK_WAIT_SECONDS = float(os.environ.get("LEDGER_LOCK_WAIT_SECONDS", STALE_LOCK_SECONDS + 5))

OK, LOCKED, MOVED = "ok", "locked", "moved"
_REF_STORAGE = re.compile(r"^\s*\[\s*extensions\s*\]((?:(?!^\s*\[).)*)", re.M | re.S | re.I)


def check_ref_storage(common_dir: Path) -> None:
    """Refuse repositories whose refs are not files (`extensions.refStorage=reftable`):
    loose ref files written there would be ignored by git."""
    try:
        text = (common_dir / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for section in _REF_STORAGE.finditer(text):
        found = re.search(r"^\s*refstorage\s*=\s*\"?([^\s\"#;]+)", section.group(1),
                          re.M | re.I)
        if found and found.group(1).lower() != "files":
            raise UnsupportedRepositoryError(
                f"this repository keeps its refs in {found.group(1)} "
                f"(extensions.refStorage in {common_dir / 'config'}), which the ledger "
                "cannot update safely yet; use a repository with the default 'files' ref "
                "storage")


class Refs:
    """Read refs and move them only by compare-and-swap."""

    def __init__(self, common_dir: Path) -> None:
        check_ref_storage(common_dir)
        self._refs = DiskRefsContainer(str(common_dir))
        self._locks = common_dir / "ledger" / "locks"

    def get(self, name: bytes) -> bytes | None:
        try:
            return self._refs[Ref(name)]
        except KeyError:
            return None

    def names(self, prefix: bytes) -> list[bytes]:
        return sorted(prefix + n for n in self._refs.keys(base=Ref(prefix.rstrip(b"/"))))

    def lock_path(self, name: bytes) -> Path:
        """git's lock file of a ref."""
        return Path(os.fsdecode(self._refs.refpath(Ref(name)))).with_name(
            os.fsdecode(name.rsplit(b"/", 1)[-1]) + ".lock")

    def swap(self, name: bytes, old: bytes | None, new: bytes) -> bool:
        """Set `name` to `new` only if it still points at `old` (None: does not exist)."""
        return self._swap(name, old, new) == OK

    def _swap(self, name: bytes, old: bytes | None, new: bytes) -> str:
        """The same protocol as git and dulwich (take `<ref>.lock` exclusively, re-read the ref
        under the lock, write, rename) without the fsync: git does not fsync loose refs by
        default either, and an fsync per commit would cost more than the commit itself."""
        refs = self._refs
        ref = Ref(name)
        refs._check_refname(ref)
        path = refs.refpath(ref)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            f = GitFile(path, "wb", fsync=False)
        except FileLocked:
            return LOCKED
        try:
            current: bytes | None = refs._read_loose_ref_file(ref)
            if current is None:
                current = refs.get_packed_refs().get(ref)
            if current != old:
                f.abort()
                return MOVED
            f.write(new + b"\n")
        except BaseException:
            f.abort()
            raise
        f.close()
        return OK

    def delete(self, name: bytes, old: bytes) -> bool:
        try:
            return bool(self._refs.remove_if_equals(Ref(name), ObjectID(old)))
        except FileLocked:
            return False

    def writer(self, name: bytes) -> FileLock:
        """The flock that the ledger's writers of `name` on this machine take turns on."""
        return FileLock(self._locks / os.fsdecode(name).replace("/", "%"))

    def update(
        self,
        name: bytes,
        build: Callable[[bytes | None], bytes | None],
        tries: int = MAX_TRIES,
    ) -> bytes | None:
        """Move `name` to `build(current)`, rebuilding on every lost race.

        `build` returns the new target, or None (or the current value) to leave the ref as is.
        Gives up with ConcurrencyError after `tries` lost races (or a lock held too long),
        never overwriting a writer.
        """
        lock_file = self.lock_path(name)
        started = time.monotonic()
        with self.writer(name):
            for attempt in range(tries):
                old = self.get(name)
                new = build(old)
                if new is None or new == old:
                    return old
                outcome = self._swap(name, old, new)
                if outcome == OK:
                    return new
                if outcome == LOCKED:
                    if clear_stale_lock(lock_file, self._locks):
                        continue
                    if time.monotonic() - started > LOCK_WAIT_SECONDS:
                        break
                time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.001 * 2 ** min(attempt, 8))))
        age = lock_age(lock_file)
        if age is not None:
            raise ConcurrencyError(
                f"could not update {name.decode()}: its lock file {lock_file} exists "
                f"(age {age:.1f} s); another process is updating it, or one died while "
                "doing so: if no git or ledger process is running, remove that file and "
                "try again")
        raise ConcurrencyError(
            f"could not update {name.decode()}: {tries} concurrent updates won the race; "
            "try again"
        )


def lock_age(lock_file: Path) -> float | None:
    try:
        return max(0.0, time.time() - lock_file.stat().st_mtime)
    except FileNotFoundError:
        return None


def clear_stale_lock(lock_file: Path, aside_dir: Path) -> bool:
    """Remove `lock_file` if it is older than STALE_LOCK_SECONDS; True if it is gone."""
    try:
        before = lock_file.stat()
    except FileNotFoundError:
        return True  # released meanwhile: try again at once
    if time.time() - before.st_mtime < STALE_LOCK_SECONDS:
        return False
    aside_dir.mkdir(parents=True, exist_ok=True)
    aside = aside_dir / f"stale-{os.getpid()}-{random.getrandbits(32):08x}"
    try:
        os.rename(lock_file, aside)
    except FileNotFoundError:
        return True
    moved = aside.stat()
    if (moved.st_ino, moved.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
        # a fresh lock took the old one's place between our look and our move: put it back
        try:
            os.link(aside, lock_file)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)
    return True
