"""Fixtures (imported by the tests that use them): real mounts (a small tmpfs, a read-only bind) where the
tests run as root; skipped elsewhere."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a disk that fills up."""
    where = tmp_path / "small"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)):
        pytest.skip("needs root and mount (tmpfs)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only() -> Iterator:
    """read_only(folder) -> the same folder, mounted read-only elsewhere."""
    mounted: list[Path] = []

    def make(folder: Path) -> Path:
        view = folder.parent / (folder.name + "-ro")
        view.mkdir()
        if not (_mount("--bind", str(folder), str(view))
                and _mount("-o", "remount,bind,ro", str(view))):
            pytest.skip("needs root and mount (read-only bind)")
        mounted.append(view)
        return view

    yield make
    for view in mounted:
        subprocess.run(["umount", "-l", str(view)], check=False)
