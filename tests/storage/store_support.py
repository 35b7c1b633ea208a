"""Helpers for the large-file tests: a repository with a store, big files, bare remotes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git

LARGE = 64  # bytes: large_file_bytes in these tests, so that "large" files stay tiny


def configure(repo: Path, url: str, commit: bool = True) -> None:
    """Write [storage] to ledger.toml (committed, so that clones see the same store)."""
    (repo / "ledger.toml").write_text(f'[storage]\nurl = "{url}"\nlarge_file_bytes = {LARGE}\n')
    if commit:
        git(repo, "add", "ledger.toml")
        git(repo, "commit", "-qm", "a store for large files")


def big_file(path: Path, size: int = 4096, seed: int = 1) -> bytes:
    data = (bytes([seed]) + os.urandom(size - 1)) if size else b""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def objects_in(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "sha256").rglob("*") if p.is_file()) \
        if (folder / "sha256").is_dir() else []
