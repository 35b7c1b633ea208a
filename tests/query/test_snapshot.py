"""The Parquet snapshot of the run table stays equal to a rebuild from scratch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from ledger.api import Ledger
from ledger.cli.render import jsonable
from ledger.query import search
from tests.conftest import run_ledger


def as_rows(table: pa.Table) -> str:
    ordered = table.sort_by("run_id")
    ordered = ordered.select(sorted(ordered.column_names))
    return json.dumps(jsonable(ordered.to_pylist()), sort_keys=True)


def incremental_equals_rebuild(repo: Path) -> None:
    lg = Ledger(repo)
    incremental = search.snapshot(lg).table()
    scratch = repo.parent / "scratch-index"
    shutil.rmtree(scratch, ignore_errors=True)
    rebuilt = search.Snapshot(lg.store, scratch).table()
    assert as_rows(incremental) == as_rows(rebuilt)


WRITER = """
import sys, ledger
lg = ledger.Ledger(sys.argv[1])
for i in range(int(sys.argv[3])):
    with lg.start_run(experiment=f"e{i % 3}", name=f"{sys.argv[2]}-{i}") as run:
        run.log_params({"worker": sys.argv[2], "i": i})
        run.log_metric(f"m{i % 4}", i * 0.5, step=i)
        run.set_tag(f"t{i % 2}", sys.argv[2])
"""


def test_interleaved_writers_deletes_restores(repo: Path) -> None:
    lg = Ledger(repo)
    assert search.snapshot(lg).table().num_rows == 0
    for round_ in range(3):
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(repo), f"w{w}r{round_}",
                                   "8"]) for w in range(3)]
        # a reader catching up while the writers are busy
        run_ledger("runs", "--format", "json", cwd=repo)
        for p in procs:
            assert p.wait(timeout=120) == 0
        ids = Ledger(repo).search_runs()["run_id"].to_pylist()
        Ledger(repo).delete_run(ids[round_])
        Ledger(repo).set_run_tags(ids[round_ + 1], {"late": "yes"})
        if round_:
            Ledger(repo).restore_run(ids[0])
        incremental_equals_rebuild(repo)
    runs = Ledger(repo).search_runs(include_deleted=True)
    assert runs.num_rows == 72
    manifest = search.snapshot(Ledger(repo)).refresh()
    assert len(manifest.segments) <= 12


def test_corrupt_or_missing_cache_is_rebuilt(repo: Path) -> None:
    lg = Ledger(repo)
    for i in range(5):
        lg.log_run("c", params={"i": i}, metrics=[("m", i, 0)])
    assert lg.search_runs().num_rows == 5
    index = repo / ".git" / "ledger" / "index"
    for seg in index.glob("seg-*.parquet"):
        seg.write_bytes(b"garbage")
    from ledger.query import snapshot

    snapshot._memo.clear()
    assert Ledger(repo).search_runs().num_rows == 5
    (index / "manifest.json").write_text("{not json")
    snapshot._memo.clear()
    assert Ledger(repo).search_runs().num_rows == 5
    shutil.rmtree(index)
    snapshot._memo.clear()
    assert Ledger(repo).search_runs().num_rows == 5
    assert run_ledger("reindex", cwd=repo).out.strip() == "5 runs indexed"


def test_search_columns_and_order(repo: Path) -> None:
    lg = Ledger(repo)
    a = lg.log_run("x", params={"lr": "0.1"}, metrics=[("acc", 0.9, 0)], tags={"t": "1"})
    b = lg.log_run("x", params={"lr": "0.2"}, metrics=[("acc", 0.8, 0)])
    c = lg.log_run("y", metrics=[("loss", 1.0, 0)])
    table = lg.search_runs(experiment="x")
    assert table.column_names == ["run_id", "experiment", "name", "status", "start_time",
                                  "end_time", "user", "source.commit", "params.lr",
                                  "metrics.acc", "tags.t"]
    assert table["run_id"].to_pylist() == [b, a]
    assert lg.search_runs(max_results=1)["run_id"].to_pylist() == [c]
    lg.delete_run(c)
    assert c not in lg.search_runs()["run_id"].to_pylist()
    assert c in lg.search_runs(include_deleted=True)["run_id"].to_pylist()


def test_snapshot_after_a_merge_of_two_diverged_ledgers(tmp_path: Path) -> None:
    from tests.conftest import git, make_repo

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    a, b = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    for clone in (a, b):
        git(clone, "remote", "add", "origin", str(remote))
    shared = Ledger(a).log_run("s", params={"p": 1}, tags={"t": "a"})
    assert run_ledger("sync", cwd=a).code == 0
    assert run_ledger("sync", cwd=b).code == 0
    for i in range(5):
        Ledger(a).log_run("a", metrics=[("m", i, 0)])
        Ledger(b).log_run("b", metrics=[("m", -i, 0)])
    Ledger(a).set_run_tags(shared, {"t": "from-a"})
    Ledger(b).delete_run(shared)
    for clone in (a, b):
        assert search.snapshot(Ledger(clone)).table().num_rows == 6  # built before the merge
    for clone in (a, b, a):
        assert run_ledger("sync", cwd=clone).code == 0
    for clone in (a, b):
        incremental_equals_rebuild(clone)
    tables = [as_rows(search.snapshot(Ledger(c)).table()) for c in (a, b)]
    assert tables[0] == tables[1]
    runs = Ledger(a).search_runs(include_deleted=True)
    assert runs.num_rows == 11
