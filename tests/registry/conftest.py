"""Fixtures of the registry and model tests (the root conftest's `repo`, `git` and isolated
HOME apply here too); helper functions live in tagging.py and model_runs.py."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def ssh_keys(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Two ed25519 key pairs made for the test: alice (trusted) and mallory."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    keys = {}
    for who in ("alice", "mallory"):
        key = tmp_path / f"{who}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)],
            check=True,
        )
        keys[who] = key
    yield keys
