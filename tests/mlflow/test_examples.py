"""The drop-in route on scripts in the style of MLflow's examples (tests/mlflow/examples/):
each runs unchanged but for `import ledger as mlflow`, with the mlflow package made
unimportable, and what it logged is read back with `ledger runs --format json`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_ledger
from tests.mlflow.conftest import run_script

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parent / "examples"


def run_example(repo: Path, tmp_path: Path, name: str) -> str:
    blocker = tmp_path / "no-mlflow" / "mlflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('the drop-in route must not import mlflow')\n")
    path = f"{blocker.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    source = (EXAMPLES / f"{name}.py").read_text()
    return run_script(repo, source, env={"PYTHONPATH": path}).stdout


def runs(repo: Path, experiment: str) -> dict[str, dict[str, Any]]:
    res = run_ledger("runs", "--experiment", experiment, "--format", "json", cwd=repo)
    assert res.code == 0, res.err
    return {r["name"]: r for r in json.loads(res.out)}


def artifacts(run: dict[str, Any]) -> set[str]:
    return {a["path"] for a in run["artifacts"]}


def test_quickstart(repo: Path, tmp_path: Path) -> None:
    out = run_example(repo, tmp_path, "quickstart")
    run = runs(repo, "quickstart")["baseline"]
    assert run["status"] == "FINISHED" and run["id"] in out
    assert run["params"] == {"learning_rate": "0.01", "epochs": "3", "optimizer": "adam"}
    assert run["metrics"] == {"loss": pytest.approx(1 / 3), "accuracy": 0.9, "f1": 0.85}
    assert {"team": "forecasting", "stage": "dev", "owner": "alice"}.items() <= \
        run["tags"].items()
    assert artifacts(run) == {"summary.txt", "config/model.json", "notes.md"}
    history = run_ledger("metrics", run["id"], "loss", "--format", "json", cwd=repo)
    assert [p["value"] for p in json.loads(history.out)] == pytest.approx([1, 1 / 2, 1 / 3])


def test_sklearn_autolog(repo: Path, tmp_path: Path) -> None:
    run_example(repo, tmp_path, "sklearn_autolog")
    run = runs(repo, "diabetes")["elasticnet"]
    assert run["params"]["alpha"] == "0.05" and run["params"]["l1_ratio"] == "0.5"
    assert {"training_r2_score", "training_mean_squared_error", "test_r2"} <= set(run["metrics"])
    assert any(path.startswith("model/") for path in artifacts(run))


def test_client_usage(repo: Path, tmp_path: Path) -> None:
    out = run_example(repo, tmp_path, "client_usage")
    run = runs(repo, "client-api")["batch-run"]
    assert run["status"] == "FINISHED"
    assert run["params"] == {"batch_size": "32", "seed": "7"}
    assert run["metrics"] == {"loss": pytest.approx(0.5), "accuracy": 0.8}
    assert {"phase": "train", "reviewed": "no", "source": "client"}.items() <= \
        run["tags"].items()
    assert artifacts(run) == {"model/weights.txt"}
    assert "loss history [0.9, 0.8, 0.7, 0.6, 0.5]" in out and "found batch-run 0.8" in out


def test_log_table_figure_and_image(repo: Path, tmp_path: Path) -> None:
    out = run_example(repo, tmp_path, "log_media")
    run = runs(repo, "media")["plots"]
    paths = artifacts(run)
    assert {"eval/results.json", "points.json", "figures/curve.png",
            "images/noise.png"} <= paths
    assert any(p.startswith("images/sample") and p.endswith(".png") for p in paths)
    png = run_ledger("get", run["id"], "figures/curve.png", "-o", str(tmp_path / "c.png"),
                     cwd=repo)
    assert png.code == 0 and (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert "table rows 2" in out


def test_search_runs_to_pandas(repo: Path, tmp_path: Path) -> None:
    out = run_example(repo, tmp_path, "search_to_pandas")
    found = runs(repo, "sweep")
    assert sorted(r["params"]["lr"] for r in found.values()) == ["0.001", "0.01", "0.1"]
    assert "best lr 0.01 status FINISHED" in out
    assert "count 3" in out and "'artifact_uri'" in out


def test_nested_runs_and_set_experiment(repo: Path, tmp_path: Path) -> None:
    out = run_example(repo, tmp_path, "nested_runs")
    found = runs(repo, "hyperopt")
    parent = found.pop("search")
    assert sorted(found) == ["trial-0", "trial-1", "trial-2"]
    assert {r["tags"]["ledger.parent_run_id"] for r in found.values()} == {parent["id"]}
    assert parent["tags"]["best_run"] == found["trial-2"]["id"]
    assert parent["metrics"]["best_score"] == pytest.approx(0.875)
    assert "children ['trial-2', 'trial-1', 'trial-0']" in out and "parent of best True" in out
