"""Helpers for the project and reproduce tests: small training scripts in real repositories."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import git, run_ledger

PY = sys.executable

TRAIN = """\
import sys
import ledger

alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
with open("data.csv") as f:
    rows = [float(line) for line in f if line.strip()]
ledger.log_input("data.csv")
ledger.log_metric("score", alpha * sum(rows))
ledger.log_metric("rows", len(rows))
"""

NOISY = """\
import random
import ledger

ledger.log_metric("stable", 1.0)
ledger.log_metric("noise", random.random())
"""


def training_repo(repo: Path, script: str = TRAIN, data: str = "1\n2\n3\n") -> Path:
    """train.py committed; data.csv untracked (as data usually is)."""
    (repo / "train.py").write_text(script)
    (repo / ".gitignore").write_text("data.csv\n")
    git(repo, "add", "train.py", ".gitignore")
    git(repo, "commit", "-qm", "training script")
    (repo / "data.csv").write_text(data)
    return repo


def exec_run(repo: Path, *args: str) -> str:
    """`ledger exec -- python train.py ARGS`; the run id."""
    res = run_ledger("exec", "--", PY, "train.py", *args, cwd=repo)
    assert res.code == 0, res.err
    return res.err.strip().splitlines()[-1]
