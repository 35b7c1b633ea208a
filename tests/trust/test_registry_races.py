"""Concurrent promote and demote in real processes never give two tags one counter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.registry.api import register_model
from tests.conftest import git

WORKER = """
import sys, time
from ledger.registry.api import promote_model, demote_model
from ledger.errors import LedgerError
repo, stage, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for _ in range(3):
    for call in (promote_model, demote_model):
        try:
            call("iris", "v0.0.1", stage, repo=repo)
        except LedgerError as exc:
            print("refused:", exc, file=sys.stderr)
"""


@pytest.mark.slow
def test_concurrent_stage_tags_never_share_a_counter(repo: Path, tmp_path: Path) -> None:
    art = tmp_path / "m.pkl"
    art.write_bytes(b"model")
    rid = Ledger(repo).log_run("e", "r", artifacts=[(str(art), "model/m.pkl")])
    register_model("iris", rid, path="model", repo=repo)
    import time

    start = str(time.time() + 2)
    env = {**os.environ, "GIT_COMMITTER_DATE": "1700000000 +0000"}  # no waiting on clocks
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(repo), stage, start], env=env,
                              stderr=subprocess.PIPE, text=True)
             for stage in ("prod", "prod", "staging", "dev")]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    tags = git(repo, "tag", "--list", "iris#*").stdout.split()
    counters = [int(re.search(r"#(\d+)$", t).group(1)) for t in tags]  # type: ignore[union-attr]
    assert len(counters) == len(set(counters)), sorted(tags, key=lambda t: t.split("#")[-1])
    assert len(tags) >= 12
