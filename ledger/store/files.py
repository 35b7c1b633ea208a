"""Atomic file writes, in one place: a temporary file in the same folder, then `os.replace`.

A reader sees the old file or the new one, never a torn one; a failed write leaves no
temporary file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is
    removed. For writers that want a path (Parquet, a copied file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes, executable: bool = False) -> Path:
    """Write `data` to `path` atomically (permissions from the umask; +x if `executable`)."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        if executable:
            os.chmod(tmp, os.stat(tmp).st_mode | 0o111)
    return Path(path)


def read_or_none(path: str | os.PathLike[str]) -> bytes | None:
    """A file's bytes, or None if it cannot be read (missing, a folder, no permission)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def user_cache_dir() -> Path:
    """The user's cache folder for the ledger ($XDG_CACHE_HOME/ledger, ~/.cache/ledger)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ledger"
