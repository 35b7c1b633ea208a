"""`ledger import URI` copies an MLflow store; compared field by field with what MLflow reads
back from it. A second import adds nothing; a bad URI is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.registry import api as registry
from tests.conftest import run_ledger
from tests.mlflow.conftest import run_script

pytestmark = pytest.mark.slow

MAKE_STORE = """
import sys
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

mlflow.set_tracking_uri(sys.argv[1] if len(sys.argv) > 1 else "{uri}")
mlflow.set_experiment("exp-a")
X, y = load_iris(return_X_y=True)
for i in range(3):
    with mlflow.start_run(run_name=f"r{{i}}", tags={{"team": "v"}}) as run:
        mlflow.log_params({{"i": i, "lr": 0.1}})
        for s in range(4):
            mlflow.log_metric("loss", 1 / (s + 1 + i), step=s)
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_text("hello %d" % i, "notes/a.txt")
        if i == 0:
            mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model",
                                     registered_model_name="iris-model",
                                     pip_requirements=["scikit-learn"])
with mlflow.start_run(run_name="failed"):
    mlflow.end_run("FAILED")
mlflow.MlflowClient().set_registered_model_alias("iris-model", "champion", "1")
"""


@pytest.mark.parametrize("kind", ["sqlite", "folder"])
def test_import_round_trip(repo: Path, tmp_path: Path, kind: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    import math

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps ./mlruns readable

    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db" if kind == "sqlite" else (store / "mlruns").as_uri()
    run_script(store, MAKE_STORE.format(uri=uri))
    source = uri if kind == "sqlite" else str(store / "mlruns")
    first = run_ledger("import", source, cwd=repo)
    assert first.code == 0, first.err
    assert "4 runs added" in first.out and "1 model versions and 1 aliases" in first.out
    again = run_ledger("import", source, cwd=repo)
    assert again.code == 0 and "0 runs added (4 already present)" in again.out

    client = MlflowClient(tracking_uri=uri)
    lg = Ledger(repo)
    exp = client.get_experiment_by_name("exp-a")
    theirs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)
    assert len(theirs) == 4
    for run in theirs:
        mine = lg.get_run(run.info.run_id)
        assert mine.info.experiment == "exp-a"
        assert (mine.info.run_name, mine.info.status, mine.info.start_time,
                mine.info.end_time, mine.info.user_id) == (
            run.info.run_name, run.info.status, run.info.start_time, run.info.end_time,
            run.info.user_id)
        assert mine.params == run.data.params
        assert mine.data.tags.get("team") == run.data.tags.get("team")
        assert mine.data.tags["mlflow.runName"] == run.data.tags["mlflow.runName"]
        for key, value in run.data.metrics.items():
            assert mine.metrics[key] == value or (math.isnan(value) and math.isnan(
                mine.metrics[key]))
            history = [(m.step, m.timestamp, m.value)
                       for m in client.get_metric_history(run.info.run_id, key)]
            got = [(s, ts, v) for _, s, ts, v in lg.metric_points(run.info.run_id, key)]
            # as sets: a point logged twice identically (log_model re-logs the metrics of its
            # step) is one point in the ledger; NaN == NaN as text
            assert set(map(str, got)) == set(map(str, history))
        if run.info.run_name.startswith("r"):
            text = lg.read_artifact(run.info.run_id, "notes/a.txt").decode()
            assert text == "hello " + run.info.run_name[1:]
    versions = registry.show_model("iris-model", repo=lg)
    assert [(v.version, v.stages) for v in versions] == [("v0.0.1", ["champion"])]
    model_run = versions[0].run_id
    assert "model/MLmodel" in {a["path"] for a in lg.get_run(model_run).artifacts}


def test_bad_uri_is_one_line(repo: Path) -> None:
    result = run_ledger("import", "sqlite:///nowhere/mlflow.db", cwd=repo)
    assert result.code == 1
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
