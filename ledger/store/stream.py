"""Large blobs in and out of git in chunks, never whole in memory.

Writing: the file is hashed and zlib-compressed in one pass into a temporary loose object,
then renamed into place under its id (what `git hash-object -w` does). Reading: `git cat-file
--batch` streams the contents of any object (loose or packed, deltas resolved by git) and
they are copied to the destination a chunk at a time.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ledger.errors import LedgerError
from ledger.store.files import replacing
from ledger.store.git import git_env

CHUNK = 1 << 20
STREAM_ABOVE = 4 * CHUNK  # smaller files are read whole (and may share one pack)


def write_blob(objects_dir: Path, path: Path) -> tuple[bytes, int]:
    """Store the file at `path` as a loose blob, in chunks; returns (id, size)."""
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        sha = hashlib.sha1(f"blob {size}\0".encode())
        tmp = objects_dir / f"tmp_obj_{os.getpid()}_{os.urandom(4).hex()}"
        try:
            with open(tmp, "xb") as out:
                z = zlib.compressobj(1)
                out.write(z.compress(f"blob {size}\0".encode()))
                seen = 0
                while chunk := src.read(CHUNK):
                    seen += len(chunk)
                    sha.update(chunk)
                    out.write(z.compress(chunk))
                out.write(z.flush())
            if seen != size:
                raise LedgerError(f"{path} changed while it was being stored; try again")
            hexsha = sha.hexdigest()
            folder = objects_dir / hexsha[:2]
            folder.mkdir(exist_ok=True)
            final = folder / hexsha[2:]
            if final.exists():
                os.utime(final)  # keep it from `git gc --prune` until a ref reaches it
            else:
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    return hexsha.encode(), size


@contextmanager
def blobs(git_dir: Path, shas: Iterable[bytes]) -> Iterator[Iterator[tuple[bytes, int, BinaryIO]]]:
    """Stream blobs: yields (id, size, reader) in order; read each reader to its end (or
    leave it: the next item skips what is left)."""
    import subprocess  # here: commands that stream nothing start without it

    wanted = list(shas)
    proc = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=git_env())
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"".join(s + b"\n" for s in wanted))
    proc.stdin.close()
    try:
        yield _items(proc.stdout, wanted)  # type: ignore[arg-type]
    finally:
        proc.stdout.close()
        proc.wait()


class _Reader:
    """A bounded view of the pipe: the contents of one object."""

    def __init__(self, pipe: BinaryIO, size: int) -> None:
        self._pipe, self.left = pipe, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self._pipe.read(n) if n else b""
        if len(data) < n:
            raise LedgerError("git stopped while streaming an object")
        self.left -= len(data)
        return data

    def skip(self) -> None:
        while self.left:
            self.read(CHUNK)


def _items(pipe: BinaryIO, wanted: list[bytes]) -> Iterator[tuple[bytes, int, BinaryIO]]:
    for sha in wanted:
        header = pipe.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            raise LedgerError(f"git object {sha.decode()} is missing or not a file "
                              "(the repository is incomplete: try `git fsck`)")
        reader = _Reader(pipe, int(header[2]))
        yield sha, int(header[2]), reader  # type: ignore[misc]
        reader.skip()
        pipe.read(1)  # the newline after the contents


def copy(reader: BinaryIO, out: BinaryIO) -> None:
    while chunk := reader.read(CHUNK):
        out.write(chunk)


def write_files(git_dir: Path, files: list[tuple[Path, bytes, bool]],
                stored: Callable[[BinaryIO, int, Path], bool] | None = None) -> None:
    """Write blobs to files (target, blob id, executable), each atomically, streaming the
    contents (permissions from the umask, as tar -x gives them). `stored(reader, size, tmp)`,
    if given, may write a blob itself (a pointer to a file kept in a store of large files:
    ledger/storage) and return True; False leaves the blob unread, to be copied as it is."""
    with blobs(git_dir, [sha for _, sha, _ in files]) as found:
        for (target, _sha, executable), (_s, size, reader) in zip(files, found):
            with replacing(target) as tmp:
                if stored is None or not stored(reader, size, tmp):
                    with open(tmp, "wb") as out:
                        copy(reader, out)
                if executable:
                    os.chmod(tmp, os.stat(tmp).st_mode | 0o111)
