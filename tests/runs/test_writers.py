"""Concurrent writer processes while the ledger merges its packs under their feet: every run
lands, the ref never loses a commit, and git finds the repository whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.store.packs import Packs
from tests.conftest import git
from tests.runs.test_concurrency import WRITER


@pytest.mark.slow
def test_writers_and_merges_side_by_side(repo: Path) -> None:
    env = {**os.environ, "LEDGER_MAX_PACKS": "3"}  # merges all the time
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(repo), str(w), "12"],
                              env=env, stderr=subprocess.PIPE, text=True) for w in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    packs = Packs(repo / ".git" / "objects")
    deadline = time.monotonic() + 60  # the last merge may still be starting
    while len(packs.owned()) > 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    packs.wait()
    store = Ledger(repo).store
    names = {f.record.name for f in store.folders(store.root(store.head()))}
    assert names == {f"w{w}-{i}" for w in range(6) for i in range(12)}
    subjects = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert len(subjects) == 6 * 12  # one commit per run: none lost, none merged away
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    assert len(packs.owned()) <= 3
