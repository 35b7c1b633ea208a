"""Search, metric histories and export through the command line and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds

from ledger.api import Ledger
from tests.conftest import run_ledger


def make_runs(repo: Path) -> list[str]:
    lg = Ledger(repo)
    ids = []
    for i in range(6):
        ids.append(lg.log_run(
            "iris" if i % 2 else "wine", name=f"r{i}",
            params={"lr": f"0.{i}", "model": "tree" if i < 3 else "forest"},
            metrics=[("acc", i / 10, 0), ("acc", i / 10 + 0.05, 1), ("val loss", 1 - i / 10, 1)],
            tags={"team": "a" if i % 3 else "b"}))
    return ids


def test_where_sort_limit(repo: Path) -> None:
    ids = make_runs(repo)

    def runs(*args: str) -> list[str]:
        result = run_ledger("runs", "--format", "json", *args, cwd=repo)
        assert result.code == 0, result.err
        return [r["id"] for r in json.loads(result.out)]

    assert runs("--where", "metrics.acc > 0.3") == [ids[5], ids[4], ids[3]]
    assert runs("--where", "params.model = 'tree' OR tags.team = 'b'") == [
        ids[3], ids[2], ids[1], ids[0]]
    assert runs("--where", "NOT (params.model = 'tree')", "--sort", "metrics.acc ASC") == [
        ids[3], ids[4], ids[5]]
    assert runs("--where", "metrics.`val loss` < 0.6", "--limit", "1") == [ids[5]]
    assert runs("--experiment", "iris", "--sort", "params.lr DESC") == [ids[5], ids[3], ids[1]]
    assert runs("--where", "attributes.run_name LIKE 'r%' and params.lr IN ('0.1', '0.2')") == [
        ids[2], ids[1]]
    bad = run_ledger("runs", "--where", "metrics.acc >> 1", cwd=repo)
    assert bad.code == 1 and bad.err.startswith("error: ") and "position" in bad.err
    assert bad.err.count("\n") == 1


def test_api_search_and_history(repo: Path) -> None:
    ids = make_runs(repo)
    lg = Ledger(repo)
    top = lg.search_runs(where="metrics.acc >= 0", order_by=["metrics.acc DESC"], max_results=2)
    assert top["run_id"].to_pylist() == [ids[5], ids[4]]
    assert top["metrics.acc"].to_pylist() == [0.55, 0.45]
    hist = lg.get_metric_history([ids[0], ids[1]], "acc")
    assert hist.column_names == ["run_id", "key", "step", "timestamp", "value"]
    assert hist["run_id"].to_pylist() == [ids[0]] * 2 + [ids[1]] * 2
    assert hist["value"].to_pylist() == [0.0, 0.05, 0.1, 0.15000000000000002]
    out = run_ledger("metrics", ids[0], ids[1], "acc", "--format", "json", cwd=repo)
    rows = json.loads(out.out)
    assert [(r["run_id"], r["step"]) for r in rows] == [(ids[0], 0), (ids[0], 1), (ids[1], 0),
                                                         (ids[1], 1)]
    one = json.loads(run_ledger("metrics", ids[0], "--format", "json", cwd=repo).out)
    assert {r["key"] for r in one} == {"acc", "val loss"}


def test_diff_of_many_runs(repo: Path) -> None:
    ids = make_runs(repo)
    rows = json.loads(run_ledger("diff", *ids[:3], "--format", "json", cwd=repo).out)
    by_key = {r["key"]: r["values"] for r in rows}
    assert by_key["params.lr"] == ["0.0", "0.1", "0.2"]
    assert "params.model" not in by_key  # equal in all three


def test_export_is_plain_parquet(repo: Path, tmp_path: Path) -> None:
    ids = make_runs(repo)
    out = tmp_path / "export"
    result = run_ledger("export", str(out), cwd=repo)
    assert result.code == 0, result.err
    runs = ds.dataset(out / "runs", format="parquet", partitioning="hive").to_table()
    assert sorted(runs["run_id"].to_pylist()) == sorted(ids)
    assert set(runs["experiment"].to_pylist()) == {"iris", "wine"}
    metrics = ds.dataset(out / "metrics", format="parquet", partitioning="hive").to_table()
    assert metrics.num_rows == 18
    assert run_ledger("export", str(out), cwd=repo).code == 1  # not empty: refuses
    assert run_ledger("export", str(out), "--overwrite", cwd=repo).code == 0
