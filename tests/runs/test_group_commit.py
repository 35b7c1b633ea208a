"""Group commit: threads committing at once are served by one commit; a batch that fails gives
each thread its own outcome (nobody gets another's error, nothing is lost)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.errors import InvalidInputError
from ledger.runs.record import RunRecord
from ledger.runs.store import RunStore, Update
from tests.conftest import git


def new_run(run_id: str, name: str) -> Update:
    def change(current: RunRecord | None) -> RunRecord:
        return RunRecord(id=run_id, experiment="e", name=name, status="FINISHED",
                         start_time=1, end_time=2)
    return Update(run_id, change, points=[("m", 0, 1, 1.0)], compact=True, event="finished")


def bad_update(run_id: str) -> Update:
    def change(current: RunRecord | None) -> RunRecord:
        raise InvalidInputError("this one is refused")
    return Update(run_id, change)


def commit_together(store: RunStore, batches: list[list[Update]]) -> list[object]:
    """Start one thread per batch while the committer is busy, so that all of them queue."""
    outcomes: list[object] = [None] * len(batches)

    def go(i: int) -> None:
        try:
            outcomes[i] = store.commit(batches[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(batches))]
    with store._committer:  # another commit is under way
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(store._queue) < len(batches) and time.monotonic() < deadline:
            time.sleep(0.01)
    for t in threads:
        t.join(30)
    return outcomes


def test_threads_committing_at_once_share_one_commit(repo: Path) -> None:
    lg = Ledger(repo)
    ids = [f"{i:032x}" for i in range(1, 7)]
    outcomes = commit_together(lg.store, [[new_run(rid, f"t{n}")] for n, rid in enumerate(ids)])
    assert len({o for o in outcomes}) == 1 and isinstance(outcomes[0], bytes)
    assert git(repo, "rev-list", "--count", "refs/ledger/runs").stdout.strip() == "1"
    assert sorted(lg.store.run_ids(lg.store.root(lg.store.head()))) == ids
    body = git(repo, "log", "-1", "--format=%B", "refs/ledger/runs").stdout
    assert body.startswith("6 run events") and all(f"run {rid} finished" in body for rid in ids)


def test_a_failing_batch_gives_each_thread_its_own_outcome(repo: Path) -> None:
    lg = Ledger(repo)
    good, bad = f"{1:032x}", f"{2:032x}"
    outcomes = commit_together(lg.store, [[new_run(good, "good")], [bad_update(bad)]])
    assert isinstance(outcomes[0], bytes)
    assert isinstance(outcomes[1], InvalidInputError)
    assert list(lg.store.run_ids(lg.store.root(lg.store.head()))) == [good]
    with pytest.raises(InvalidInputError):
        lg.store.commit([bad_update(bad)])


def test_threads_of_one_handle_each_land_their_runs(repo: Path) -> None:
    lg = Ledger(repo)
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(5):
            with lg.start_run(experiment="threads", name=f"w{n}-{i}") as run:
                run.log_param("n", n)
                run.log_metric("loss", 1.0 / (i + 1), step=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    store = Ledger(repo).store
    got = {f.record.name: f.record for f in store.folders(store.root(store.head()))}
    assert set(got) == {f"w{n}-{i}" for n in range(8) for i in range(5)}
    assert all(r.status == "FINISHED" for r in got.values())
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
