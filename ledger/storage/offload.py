"""Where the rest of the ledger meets the store: one call at each point.

- write (``Ledger._store_files``, ``log_input(store=True)``): :func:`offload` routes files at
  or above ``large_file_bytes`` into the store and gives the pointer to commit in their place;
- read (``read_artifact``, model package export): :func:`resolve` / :func:`write_file` turn a
  pointer back into its verified bytes, fetching from the store when needed;
- push: ``sync/large_files.py`` finds what the pushed runs point to and uploads it through
  :func:`content_store`, before the remote ref moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from ledger.errors import InvalidInputError, StorageError
from ledger.storage import config, pointer
from ledger.storage.cas import ContentStore
from ledger.storage.pointer import Pointer
from ledger.store.files import replacing
from ledger.store.gitdir import GitDir


def content_store(gitdir: GitDir) -> ContentStore:
    """The configured store (an error that says how to configure one when there is none)."""
    return ContentStore(config.require(gitdir), gitdir.ledger_dir / "storage")


def offload(gitdir: GitDir, paths: Sequence[Path]) -> dict[Path, tuple[bytes, int]]:
    """The files of ``paths`` that go to the store: path -> (pointer blob, real size).

    Empty when no store is configured or every file is below ``large_file_bytes``.
    """
    found = config.load(gitdir) if paths else None
    if found is None:
        return {}
    big = [p for p in paths if p.stat().st_size >= found.large_file_bytes]
    if not big:
        return {}
    cas = ContentStore(found, gitdir.ledger_dir / "storage")
    out = {}
    for path in big:
        ref = cas.ingest(path)
        out[path] = (ref.encode(), ref.size)
    return out


def store_input(gitdir: GitDir, path: Path) -> Pointer:
    """Put an input file in the store (``log_input(path, store=True)``)."""
    if not path.is_file():
        raise_input_folder(path)
    return content_store(gitdir).ingest(path)


def raise_input_folder(path: Path) -> None:
    raise InvalidInputError(f"input {str(path)!r} is not a file: only files can be stored "
                            "(store each file, or an archive of the folder)")


def resolve(gitdir: GitDir | None, data: bytes) -> bytes:
    """The bytes a blob stands for: its own, or, for a pointer, the stored object's."""
    found = pointer.parse(data)
    if found is None:
        return data
    return _store_for(gitdir, found).read(found)


def write_file(gitdir: GitDir | None, data: bytes, dst: Path) -> None:
    """Write what a blob stands for to a new file ``dst``, streaming a stored object."""
    found = pointer.parse(data)
    if found is None:
        dst.write_bytes(data)
    else:
        _store_for(gitdir, found).copy_to(found, dst)


def write_stored(gitdir: GitDir | None, reader: BinaryIO, size: int, dst: Path) -> bool:
    """For ``stream.write_files``: write to the new file ``dst`` what a blob that may be a
    pointer stands for (the stored object, fetched and verified, streamed); False, with
    nothing read, for a blob too large to be a pointer."""
    if size > pointer.MAX_BYTES:
        return False
    write_file(gitdir, reader.read(size), dst)
    return True


def copy_stored(gitdir: GitDir | None, reader: BinaryIO, size: int, out: BinaryIO) -> bool:
    """Copy into ``out`` what a blob that may be a pointer stands for, the stored object
    streamed and verified; False, with nothing read, for a blob too large to be a pointer."""
    if size > pointer.MAX_BYTES:
        return False
    data = reader.read(size)
    found = pointer.parse(data)
    if found is None:
        out.write(data)
        return True
    digest, n = hashlib.sha256(), 0
    with open(_store_for(gitdir, found).fetch(found), "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            n += len(chunk)
            out.write(chunk)
    if n != found.size or digest.hexdigest() != found.sha256:
        raise StorageError(f"the stored object sha256:{found.sha256} is damaged (its contents "
                           "do not match their hash): remove it from the store's cache and "
                           "fetch it again")
    return True


def describe(data: bytes) -> tuple[int, str] | None:
    """(size, sha256) of the file a pointer blob stands for; None for an ordinary blob."""
    found = pointer.parse(data)
    return (found.size, found.sha256) if found else None


def fetch_into(gitdir: GitDir, path: Path, digest: str, size: int) -> bool:
    """Write the stored object of ``digest`` (``sha256:<hex>``) to ``path``; False if the
    store has no such object (or there is no store)."""
    if config.load(gitdir) is None or not digest.startswith("sha256:"):
        return False
    cas = content_store(gitdir)
    try:
        cas.copy_to(Pointer(digest[len("sha256:"):], size), path)
    except StorageError:
        return False
    return True


def _store_for(gitdir: GitDir | None, found: Pointer) -> ContentStore:
    if gitdir is None:
        raise StorageError(f"sha256:{found.sha256} is kept in a store of large files, and "
                           "no repository was given to find it")
    return content_store(gitdir)


def fetch_pointers(gitdir: GitDir, folder: str | Path) -> list[Path]:
    """Replace each pointer file below ``folder`` by the verified file it stands for (the
    fetch step after ``git archive NAME@vX.Y.Z``); the paths replaced."""
    done = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.is_symlink() or path.stat().st_size > pointer.MAX_BYTES:
            continue
        found = pointer.parse(path.read_bytes())
        if found is None:
            continue
        with replacing(path) as tmp:
            content_store(gitdir).copy_to(found, tmp)
        done.append(path)
    return done
