"""A run that flushes for days: bounded trees per flush, an audit log of events, bounded
memory for the trees a process has written."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from ledger import Ledger, names
from ledger.runs.active import ActiveRun
from ledger.store.objects import TreeCache
from tests.conftest import git


@pytest.mark.slow
def test_flushes_rewrite_bounded_trees_and_stay_off_the_audit_line(repo: Path) -> None:
    lg = Ledger(repo)
    with lg.start_run(name="other") as other:
        pass
    with lg.start_run(name="long") as run:
        for i in range(300):
            lg.log_metric("loss", 1.0 / (i + 1), step=i)
            lg.flush()
        metrics = f"refs/ledger/runs:{names.run_dir(run.id)}/metrics"
        top = git(repo, "ls-tree", metrics).stdout.splitlines()
        assert 1 < len(top) <= 256 and all(" tree " in line for line in top)
        assert len(git(repo, "ls-tree", "-r", metrics).stdout.splitlines()) == 300
        audit = git(repo, "log", "--first-parent", "--format=%s", "refs/ledger/runs").stdout
        assert audit.splitlines() == [f"run {run.id} flushed (alice)",
                                      f"run {other.id} finished (alice)"]
    audit = git(repo, "log", "--first-parent", "--format=%s", "refs/ledger/runs").stdout
    assert audit.splitlines() == [f"run {run.id} finished: loss=0.00333333 (alice)",
                                  f"run {other.id} finished (alice)"]
    everything = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout
    assert everything.count(f"run {run.id} flushed") == 300
    assert git(repo, "fsck", "--strict").returncode == 0
    assert len(lg.metric_points(run.id, "loss")) == 300


def test_the_tree_caches_are_bounded_by_size(repo: Path) -> None:
    lg = Ledger(repo)
    caches = [lg.store.objects._trees, lg.store.objects._entries]  # read; edited
    for cache in caches:
        assert isinstance(cache, TreeCache)
        cache.budget = 20_000
    for i in range(40):
        with lg.start_run(name=f"r{i}", params={"i": i}) as run:
            run.log_metric("m", 1.0)
        assert all(cache.size <= cache.budget for cache in caches)
    assert 0 < len(caches[1]) < 40 * 4
    assert len(lg.list_runs()) == 40  # evicted trees are read again when needed


def test_ended_runs_are_released(repo: Path) -> None:
    lg = Ledger(repo)
    refs: list[weakref.ref[ActiveRun]] = []
    for i in range(20):
        with lg.start_run(name=f"r{i}") as run:
            lg.log_metric("m", float(i))
        refs.append(weakref.ref(run))
    del run
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert len(alive) <= 1  # `last_active_run()` keeps the last one, as in MLflow
