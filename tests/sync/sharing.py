"""Helpers for the sharing tests: bare remotes, clones, bulk runs, ledger trees."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from ledger import names
from ledger.api import Ledger
from ledger.runs.record import RunRecord, now_ms
from ledger.runs.store import Update
from tests.conftest import git, make_repo

RUNS = "refs/ledger/runs"


def bare_remote(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    git(path.parent, "init", "-q", "--bare", str(path))
    return path


def clone_of(remote: Path, path: Path) -> Path:
    """A fresh repository with `remote` as origin and one commit of its own."""
    make_repo(path)
    git(path, "remote", "add", "origin", str(remote))
    return path


def bulk_runs(repo: Path, n: int, experiment: str = "bulk", points: int = 3,
              running: bool = False) -> dict[str, list[tuple]]:
    """Commit `n` runs in one commit (as an import would); returns run id -> its points."""
    lg = Ledger(repo)
    updates: list[Update] = []
    logged: dict[str, list[tuple]] = {}
    start = now_ms()
    for i in range(n):
        rid = names.new_run_id(start + i)
        rec = RunRecord(id=rid, experiment=experiment, name=f"{experiment}-{i}",
                        start_time=start + i, user="alice", params={"i": str(i)})
        rec.set_tag("who", experiment, (start + i, 0))
        if not running:
            rec.finish("FINISHED", start + i + 1, (start + i, 1))
        pts = [("loss", s, start + i, 1.0 / (s + i + 1)) for s in range(points)]
        logged[rid] = pts
        updates.append(Update(rid, _constant(rec), points=pts, compact=not running,
                              event="finished"))
    lg.store.commit(updates)
    return logged


def _constant(record: RunRecord):
    return lambda _current: record


def tree_of(repo: Path, ref: str = RUNS) -> str:
    return git(repo, "rev-parse", f"{ref}^{{tree}}").stdout.strip()


def ref_of(repo: Path, ref: str = RUNS) -> str | None:
    out = git(repo, "rev-parse", "--verify", "-q", ref, check=False).stdout.strip()
    return out or None


def ledger_shim(folder: Path) -> Path:
    """A `ledger` command on PATH that runs this checkout (for git hooks)."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "ledger"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m ledger.cli \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def env_with_path(folder: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
