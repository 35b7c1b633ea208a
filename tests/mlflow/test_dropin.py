"""`import ledger as mlflow`: scripts written in the style of MLflow's examples run unchanged
on the ledger (no MLflow server, no mlflow package needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.api import Ledger
from tests.mlflow.conftest import run_script

pytestmark = pytest.mark.slow


def test_tracking_quickstart(repo: Path) -> None:
    out = run_script(repo, """
        import os, tempfile
        import ledger as mlflow

        mlflow.set_tracking_uri(f"ledger:{os.getcwd()}")
        mlflow.set_experiment("quickstart")
        with mlflow.start_run(run_name="first", description="a note") as run:
            mlflow.log_param("alpha", 0.5)
            mlflow.log_params({"l1_ratio": 0.1, "solver": "saga"})
            for step in range(5):
                mlflow.log_metric("rmse", 1.0 / (step + 1), step=step, synchronous=False)
            mlflow.log_metrics({"r2": 0.8, "mae": 0.3})
            mlflow.set_tag("team", "forecast")
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "features.txt")
                with open(path, "w") as f:
                    f.write("a,b,c")
                mlflow.log_artifact(path, artifact_path="data")
            mlflow.log_dict({"k": 1}, "config.json")
            print("uri", mlflow.get_artifact_uri())
        runs = mlflow.search_runs(filter_string="metrics.rmse < 0.3 AND params.alpha = '0.5'",
                                  output_format="pandas")
        print("rows", len(runs), sorted(c for c in runs.columns if not c.startswith("tags.")))
        print("name", runs["tags.mlflow.runName"][0], runs["start_time"].dtype)
        last = mlflow.last_active_run()
        print("last", last.info.run_id == run.info.run_id, last.info.lifecycle_stage)
        fetched = mlflow.get_run(run.info.run_id)
        print("note", fetched.data.tags["mlflow.note.content"], fetched.info.experiment_id)
    """)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["uri"].startswith(f"ledger://{repo.resolve()}/runs/")
    assert lines["rows"].startswith("1 ")
    for column in ("artifact_uri", "end_time", "experiment_id", "metrics.rmse", "params.alpha",
                   "run_id", "start_time", "status"):
        assert repr(column) in lines["rows"]
    assert lines["name"].startswith("first datetime64[") and "UTC" in lines["name"]
    assert lines["last"] == "True active"
    assert lines["note"] == "a note quickstart"
    run = Ledger(repo).find_runs()[0]
    assert {a["path"] for a in run.artifacts} == {"data/features.txt", "config.json"}
    assert len(Ledger(repo).metric_points(run.id, "rmse")) == 5


def test_client_example(repo: Path) -> None:
    out = run_script(repo, """
        import os
        import ledger as mlflow
        from ledger.tracking import MlflowClient
        from ledger.exceptions import MlflowException

        client = MlflowClient()
        exp_id = client.create_experiment("client-demo", tags={"owner": "bob"})
        try:
            client.create_experiment("client-demo")
        except MlflowException as exc:
            print("duplicate refused")
        run = client.create_run(exp_id, run_name="batch", tags={"mlflow.user": "carol"})
        rid = run.info.run_id
        client.log_batch(rid, metrics=[("loss", 0.5, 1000, 0), ("loss", 0.25, 2000, 1)],
                         params={"epochs": 2}, tags={"phase": "train"})
        client.log_metric(rid, "acc", 0.75, step=3)
        client.log_text(rid, "hello", "notes/readme.txt")
        client.set_terminated(rid)
        got = client.get_run(rid)
        print("status", got.info.status, got.data.tags["mlflow.user"], got.info.run_name)
        print("history", [(m.step, m.value) for m in client.get_metric_history(rid, "loss")])
        print("list", [(f.path, f.is_dir) for f in client.list_artifacts(rid)])
        local = client.download_artifacts(rid, "notes", os.path.abspath("out"))
        print("file", open(os.path.join(local, "readme.txt")).read())
        local = mlflow.artifacts.download_artifacts(f"runs:/{rid}/notes/readme.txt",
                                                    dst_path=os.path.abspath("out2"))
        print("runs-uri", open(local).read())
        exp = mlflow.get_experiment_by_name("client-demo")
        print("exp", exp.experiment_id, exp.tags["owner"])
        found = client.search_runs([exp_id], "tags.mlflow.user = 'carol'")
        print("found", [r.info.run_id == rid for r in found])
        mlflow.delete_run(rid)
        print("deleted", client.search_runs([exp_id]), client.get_run(rid).info.lifecycle_stage)
    """)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert "duplicate refused" in out.stdout
    assert lines["status"] == "FINISHED carol batch"
    assert lines["history"] == "[(0, 0.5), (1, 0.25)]"
    assert lines["list"] == "[('notes', True)]"
    assert lines["file"] == "hello"
    assert lines["runs-uri"] == "hello"
    assert lines["exp"] == "client-demo bob"
    assert lines["found"] == "[True]"
    assert lines["deleted"] == "[] deleted"


def test_sklearn_autolog_and_nested_search(repo: Path) -> None:
    out = run_script(repo, """
        import ledger as mlflow
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier

        X, y = load_iris(return_X_y=True)
        mlflow.set_experiment("tuning")
        mlflow.set_experiment_tag("purpose", "grid")
        mlflow.autolog()
        with mlflow.start_run(run_name="search") as parent:
            for n in (2, 4):
                with mlflow.start_run(run_name=f"n{n}", nested=True):
                    RandomForestClassifier(n_estimators=n, random_state=0).fit(X, y)
        best = mlflow.search_runs(
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
            order_by=["params.n_estimators DESC"], output_format="list")
        print("children", [r.info.run_name for r in best])
        print("metric", "training_accuracy_score" in best[0].data.metrics)
        print("model", [a["path"] for a in best[0].artifacts])
        print("tag", mlflow.get_experiment_by_name("tuning").tags["purpose"])
        mlflow.log_table({"x": [1, 2], "y": ["a", "b"]}, "table.json", run_id=parent.info.run_id)
        table = mlflow.load_table("table.json", run_ids=[parent.info.run_id])
        print("table", table.shape)
    """)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["children"] == "['n4', 'n2']"
    assert lines["metric"] == "True"
    assert "model/" in lines["model"]
    assert lines["tag"] == "grid"
    assert lines["table"] == "(2, 2)"
    runs = Ledger(repo).find_runs(experiment="tuning")
    assert {r.info.run_name for r in runs} == {"search", "n2", "n4"}
    assert json.loads(json.dumps(runs[0].params))  # params are strings, as in MLflow


@pytest.mark.parametrize("text", [
    "params.a = 'it''s'", "params.a = 'a\\'b'", 'params.a = "x"', "params.a = 'say \"hi\"'",
    "tags.`mlflow.runName` = 'r''1'", "params.a LIKE '%''%'", "run_id IN ('ab', 'cd')",
])
def test_string_literals_as_mlflow_reads_them(text: str) -> None:
    from mlflow.utils.search_utils import SearchUtils

    from ledger.query.filter import parse_filter

    theirs = SearchUtils.parse_search_filter(text)[0]["value"]
    ours = parse_filter(text)
    assert ours is not None and ours.value == theirs
