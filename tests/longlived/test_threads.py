"""Threads in one process: nested trials land in their own runs, a monitor thread gets its
own run, and a point is either in its run or the call raised (SPEC §4). (Per-thread runs and
start_run under LEDGER_RUN_ID: tests/runs/test_handle.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.errors import RunStateError
from ledger.runs.active import ActiveRun
from ledger.runs.store import RunStore
from tests.conftest import make_repo, run_ledger


def test_nested_trials_in_a_thread_pool(repo: Path) -> None:
    """The Optuna pattern: a parent run in the main thread, trials in worker threads."""
    lg = Ledger(repo)
    with lg.start_run(name="sweep") as parent:
        def trial(i: int) -> str:
            assert lg.active_run() is None  # a new thread starts with no active run
            with lg.start_run(nested=True, parent_run_id=parent.id, name=f"trial-{i}",
                              params={"i": i}) as run:
                for step in range(20):
                    lg.log_metric("score", float(i), step=step)
                return run.id

        with ThreadPoolExecutor(4) as pool:
            trials = list(pool.map(trial, range(8)))
        assert lg.active_run() is parent
    for i, rid in enumerate(trials):
        run = lg.get_run(rid)
        assert run.tags["ledger.parent_run_id"] == parent.id and run.params == {"i": str(i)}
        assert {p[3] for p in lg.metric_points(rid)} == {float(i)}
    assert lg.get_run(parent.id).metrics == {}


def _load_until_refused(run: ActiveRun, acked: list[int], refused: list[int],
                        started: threading.Event) -> None:
    """A data-loader thread logging flat out until the run refuses."""
    i = 0
    while True:
        try:
            run.log_metric("x", float(i), step=i)
        except RunStateError:
            refused.append(i)
            return
        acked.append(i)
        i += 1
        if i == 2000:
            started.set()


@pytest.mark.parametrize("with_block", [False, True])
def test_loader_thread_while_the_run_ends(repo: Path, with_block: bool) -> None:
    """Every acknowledged point is in the FINISHED run; every other call raised."""
    lg = Ledger(repo)
    for _ in range(2):
        acked: list[int] = []
        refused: list[int] = []
        started = threading.Event()
        with lg.start_run(name="stress") as run:
            thread = threading.Thread(target=_load_until_refused,
                                      args=(run, acked, refused, started))
            thread.start()
            started.wait()
            if not with_block:
                lg.end_run()
        thread.join()
        assert lg.get_run(run.id).info.status == "FINISHED"
        steps = {p[1] for p in lg.metric_points(run.id, "x")}
        assert len(acked) >= 2000 and refused
        assert steps == set(acked), f"{len(set(acked) - steps)} of {len(acked)} points lost"
        assert not list((repo / ".git" / "ledger" / "journal").glob(f"{run.id}.*"))


def test_monitor_thread_between_runs(repo: Path) -> None:
    """A monitor thread calling log_metric gets its own run (as in MLflow): never one of the
    main thread's, and it does not make the main thread's next start_run fail."""
    lg = Ledger(repo)
    with lg.start_run(name="first") as first:
        lg.log_metric("acc", 1.0)
    done = threading.Event()
    monitor_runs: set[str] = set()

    def monitor() -> None:
        for i in range(5):
            lg.log_metric("gpu", float(i), step=i)
            monitor_runs.add(lg.active_run().id)  # type: ignore[union-attr]
        done.set()

    thread = threading.Thread(target=monitor)
    thread.start()
    done.wait()
    thread.join()
    with lg.start_run(name="second") as second:
        lg.log_metric("acc", 2.0)
    assert len(monitor_runs) == 1
    (mon,) = monitor_runs
    assert mon not in (first.id, second.id)
    assert lg.get_run(first.id).metrics == {"acc": 1.0}
    assert lg.get_run(second.id).metrics == {"acc": 2.0}
    assert "ledger.parent_run_id" not in lg.get_run(second.id).tags
    lg._end_all()
    assert lg.get_run(mon).info.status == "FINISHED"
    assert [p[3] for p in lg.metric_points(mon, "gpu")] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_active_run_keeps_its_repository_after_chdir(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first, other = make_repo(tmp_path / "first"), make_repo(tmp_path / "other")
    code = (
        "import os, sys, json, ledger\n"
        "with ledger.start_run(name='outer') as outer:\n"
        "    os.chdir(sys.argv[1])\n"
        "    ledger.log_metric('a', 1.0)\n"
        "    with ledger.start_run(nested=True, name='inner') as inner:\n"
        "        ledger.log_metric('b', 2.0)\n"
        "    got = ledger.get_run(outer.id)\n"
        "print(json.dumps([outer.id, inner.id, got.info.run_name]))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(other)], cwd=first,
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    outer, inner, name = json.loads(proc.stdout)
    assert name == "outer"
    shown = json.loads(run_ledger("show", inner, "--format", "json", cwd=first).out)
    assert shown["tags"]["ledger.parent_run_id"] == outer and shown["metrics"] == {"b": 2.0}
    assert run_ledger("runs", "--format", "json", cwd=other).out.strip() in ("[]", "")


def test_logging_calls_never_wait_for_a_commit(repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Flushes happen in the process's flush thread; a logging call only journals."""
    monkeypatch.setenv("LEDGER_FLUSH_SECONDS", "0")
    committers: list[str] = []
    real = RunStore.commit

    def commit(self: RunStore, updates: list) -> bytes | None:
        committers.append(threading.current_thread().name)
        return real(self, updates)

    monkeypatch.setattr(RunStore, "commit", commit)
    lg = Ledger(repo)
    run = lg.start_run(name="fast")
    step = 0
    while committers.count("ledger-flush") < 3 and step < 10_000_000:
        run.log_metric("x", float(step), step=step)
        step += 1
    run.end()
    assert committers[-1] == threading.current_thread().name  # end() commits itself
    assert set(committers[:-1]) == {"ledger-flush"}
    assert len(lg.metric_points(run.id, "x")) == step
