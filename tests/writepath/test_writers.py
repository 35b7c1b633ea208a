"""Concurrent writer processes while the ledger merges its packs under their feet: every run
lands, the ref never loses a commit, and git finds the repository whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git

from ledger.api import Ledger
from ledger.store.packs import Packs

WRITER = """
import sys, ledger
lg = ledger.Ledger(sys.argv[1])
w = int(sys.argv[2])
for i in range(int(sys.argv[3])):
    with lg.start_run(experiment="conc", name=f"w{w}-{i}") as run:
        run.log_params({"worker": w, "i": i})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    lg.log_run("oneshot", f"o{w}-{i}", params={"w": w}, metrics=[("m", 1.0, 0)])
"""


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
    assert names == {f"{k}{w}-{i}" for k in "wo" for w in range(6) for i in range(12)}
    subjects = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert len(subjects) == 6 * 12 * 2  # one commit per run: none lost, none merged away
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    assert len(packs.owned()) <= 3
