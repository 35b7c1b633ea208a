"""The ref's compare-and-swap: a stale lock is cleared, a live one named in the error; a lost
race rebuilds only the trees (the metric file is encoded once); reftable is refused."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.errors import ConcurrencyError
from ledger.runs.record import RunRecord
from ledger.runs.store import RUNS_REF, Update
from ledger.store import parquet, refs
from tests.conftest import git, run_ledger


def lock_file(repo: Path) -> Path:
    return repo / ".git" / "refs" / "ledger" / "runs.lock"


def test_a_stale_lock_is_cleared(repo: Path) -> None:
    assert run_ledger("log", "-p", "a=1", cwd=repo).code == 0
    head = git(repo, "rev-parse", "refs/ledger/runs").stdout.strip()
    lock = lock_file(repo)
    lock.write_text(head + "\n")  # a writer that died holding the lock
    old = time.time() - 3600
    os.utime(lock, (old, old))
    got = run_ledger("log", "-p", "a=2", cwd=repo)
    assert got.code == 0, got.err
    assert not lock.exists()
    assert git(repo, "rev-parse", "refs/ledger/runs^").stdout.strip() == head
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0


def test_a_live_lock_is_waited_for_then_named(repo: Path) -> None:
    assert run_ledger("log", "-p", "a=1", cwd=repo).code == 0
    head = git(repo, "rev-parse", "refs/ledger/runs").stdout.strip()
    lock = lock_file(repo)
    lock.write_text(head + "\n")  # fresh: some process is updating the ref right now
    got = run_ledger("log", "-p", "a=2", cwd=repo, env={"LEDGER_LOCK_WAIT_SECONDS": "0.3"})
    assert got.code == 1
    lines = got.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not update refs/ledger/runs")
    assert str(lock) in lines[0] and "age" in lines[0] and "remove that file" in lines[0]
    assert lock.exists()  # not ours to remove
    assert git(repo, "rev-parse", "refs/ledger/runs").stdout.strip() == head
    lock.unlink()


def test_a_lost_race_rebuilds_only_the_trees(repo: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    lg = Ledger(repo)
    base = lg.log_run("e", "base", params={"a": 1})
    encoded: list[int] = []
    real = parquet.write_metrics

    def counting(points):  # type: ignore[no-untyped-def]
        encoded.append(len(points))
        return real(points)

    monkeypatch.setattr(parquet, "write_metrics", counting)
    calls: list[int] = []

    def change(current: RunRecord | None) -> RunRecord:
        calls.append(1)
        if len(calls) == 1:  # another writer (plain git) moves the ref under our feet
            head = git(repo, "rev-parse", "refs/ledger/runs").stdout.strip()
            tree = git(repo, "rev-parse", "refs/ledger/runs^{tree}").stdout.strip()
            other = git(repo, "commit-tree", tree, "-p", head, "-m", "someone else").stdout
            git(repo, "update-ref", "refs/ledger/runs", other.strip(), head)
        record = RunRecord(id="0" * 31 + "1", experiment="e", name="racer", status="FINISHED",
                           start_time=1, end_time=2)
        return record

    lg.store.commit([Update("0" * 31 + "1", change, points=[("m", 0, 1, 0.5)], compact=True)])
    assert len(calls) == 2  # rebuilt once
    assert encoded == [1]  # the metric file was encoded once
    log = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert log[1] == "someone else"  # kept: no lost update
    assert {r for r in lg.store.run_ids(lg.store.root(lg.store.head()))} == {base, "0" * 31 + "1"}
    assert git(repo, "fsck", "--strict").returncode == 0


def test_refs_refuse_reftable(repo: Path) -> None:
    git(repo, "config", "core.repositoryformatversion", "1")
    git(repo, "config", "extensions.refStorage", "reftable")
    before = sorted(p for p in (repo / ".git").rglob("*"))
    got = run_ledger("log", "-p", "a=1", cwd=repo)
    assert got.code == 1
    lines = got.err.strip().splitlines()
    assert len(lines) == 1 and "reftable" in lines[0] and "extensions.refStorage" in lines[0]
    assert sorted(p for p in (repo / ".git").rglob("*")) == before  # nothing written


def test_giving_up_on_races_says_so(repo: Path) -> None:
    lg = Ledger(repo)
    lg.log_run("e", "base")
    store = refs.Refs(repo / ".git")

    with pytest.raises(ConcurrencyError, match="concurrent updates won the race"):
        store.update(RUNS_REF, lambda old: _moved_away(repo, old), tries=3)
    assert subprocess.run(["git", "-C", str(repo), "fsck"], capture_output=True).returncode == 0


def _moved_away(repo: Path, old: bytes | None) -> bytes:
    head = git(repo, "rev-parse", "refs/ledger/runs").stdout.strip()
    tree = git(repo, "rev-parse", "refs/ledger/runs^{tree}").stdout.strip()
    ours = git(repo, "commit-tree", tree, "-p", head, "-m", "ours").stdout.strip()
    theirs = git(repo, "commit-tree", tree, "-p", head, "-m", "theirs").stdout.strip()
    git(repo, "update-ref", "refs/ledger/runs", theirs, head)
    return ours.encode()
