"""``[storage]`` of ``ledger.toml``: where large files go, and from which size.

    [storage]
    url = "s3://bucket/prefix"      # or a folder, or any fsspec URL
    large_file_bytes = 52428800     # default 50 MB

A relative folder is relative to the folder of ``ledger.toml``. In a linked worktree without
its own ``ledger.toml`` (``ledger reproduce`` makes one), the main work tree's applies.
Credentials and endpoints come from the usual places of the backend (for S3: the ``AWS_*``
variables, ``AWS_ENDPOINT_URL`` included, and ``~/.aws``); they are never written to the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import StorageError
from ledger.store.gitdir import GitDir

FILE_NAME = "ledger.toml"
DEFAULT_LARGE_FILE_BYTES = 50 * 1024 * 1024
_cache: dict[Path, tuple[tuple[int, int], StorageConfig | None]] = {}


@dataclass(frozen=True)
class StorageConfig:
    url: str  # a URL with a scheme, or an absolute folder
    large_file_bytes: int = DEFAULT_LARGE_FILE_BYTES

    @property
    def is_local(self) -> bool:
        return "://" not in self.url or self.url.startswith("file://")

    @property
    def folder(self) -> Path:
        return Path(self.url[len("file://"):] if self.url.startswith("file://") else self.url)


def load(gitdir: GitDir) -> StorageConfig | None:
    """The store configured for this repository, or None when there is none."""
    if gitdir.work_tree is None:
        return None
    path = gitdir.work_tree / FILE_NAME
    if not path.is_file() and gitdir.common_dir.name == ".git":
        path = gitdir.common_dir.parent / FILE_NAME  # a linked worktree: the main one's
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    found = parse(_read(path), path.parent)
    _cache[path] = (stamp, found)
    return found


def require(gitdir: GitDir) -> StorageConfig:
    found = load(gitdir)
    if found is None:
        raise StorageError(
            f"this repository has no store for large files: add [storage] with url = "
            f"\"s3://bucket/prefix\" (or a folder) to {FILE_NAME} at the root of the work tree")
    return found


def _read(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StorageError(f"cannot read {path}: {exc}") from None


def parse(doc: dict[str, Any], base: Path) -> StorageConfig | None:
    """The ``[storage]`` table of a parsed ``ledger.toml`` (None when absent)."""
    table = doc.get("storage")
    if table is None:
        return None
    where = f"[storage] in {FILE_NAME}"
    if not isinstance(table, dict) or set(table) - {"url", "large_file_bytes"}:
        raise StorageError(f"{where} takes only url and large_file_bytes")
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise StorageError(f"{where} needs url = \"s3://bucket/prefix\" (or a folder)")
    size = table.get("large_file_bytes", DEFAULT_LARGE_FILE_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise StorageError(f"{where}: large_file_bytes must be a positive integer, not {size!r}")
    url = url.strip()
    if "://" not in url:
        url = os.fspath((base / os.path.expanduser(url)).resolve())
    return StorageConfig(url.rstrip("/") or "/", size)
