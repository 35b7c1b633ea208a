"""The MLflow plugin: stock MLflow code with MLFLOW_TRACKING_URI=ledger:///repo writes into
the git ledger, seen at once by `ledger runs`, `ledger model show` and `gto show`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.api import Ledger
from tests.conftest import run_ledger
from tests.mlflow.conftest import needs_plugin, run_script

pytestmark = [pytest.mark.slow, needs_plugin]
GTO = shutil.which("gto", path=str(Path(sys.executable).parent)) or shutil.which("gto") or "gto"

SCRIPT = """
import mlflow, mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
mlflow.set_experiment("iris")
with mlflow.start_run(run_name="manual") as run:
    mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("team", "vision")
    mlflow.log_text("notes", "notes.txt")
    model = LogisticRegression(C=0.5, max_iter=300).fit(X, y)
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="iris-lr",
                                    pip_requirements=["scikit-learn"])
print("model_uri", info.model_uri)
print("run_id", run.info.run_id)
client = MlflowClient()
client.set_registered_model_alias("iris-lr", "champion", "1")
print("alias", client.get_model_version_by_alias("iris-lr", "champion").version)
for uri in (info.model_uri, f"runs:/{run.info.run_id}/model", "models:/iris-lr@champion",
            "models:/iris-lr/1"):
    print("predict", uri.split(":")[0], list(mlflow.pyfunc.load_model(uri).predict(X[:2])))
found = mlflow.search_runs(filter_string="metrics.loss < 0.5 and tags.team = 'vision'")
print("search", len(found), found["tags.mlflow.runName"][0])
got = client.get_run(run.info.run_id)
print("tags", got.data.tags["mlflow.runName"], got.data.params["C"], got.info.experiment_id)
print("history", [m.value for m in client.get_metric_history(run.info.run_id, "loss")])

mlflow.sklearn.autolog(log_models=False)
with mlflow.start_run(run_name="auto") as auto:
    LogisticRegression(max_iter=300).fit(X, y)
print("auto", sorted(client.get_run(auto.info.run_id).data.metrics)[:2])
"""


def test_stock_mlflow_code_writes_into_the_ledger(repo: Path) -> None:
    out = run_script(repo, SCRIPT, env={"MLFLOW_TRACKING_URI": f"ledger://{repo}"})
    lines: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        key, _, rest = line.partition(" ")
        lines.setdefault(key, []).append(rest)
    assert lines["model_uri"][0].startswith("models:/m-")
    run_id = lines["run_id"][0]
    assert lines["alias"] == ["1"]
    assert len(lines["predict"]) == 4 and len(set(lines["predict"])) <= 2
    assert lines["search"] == ["1 manual"]
    assert lines["tags"] == ["manual 0.5 iris"]
    assert lines["history"] == ["[1.0, 0.5, 0.3333333333333333]"]
    assert lines["auto"] == ["['training_accuracy_score', 'training_f1_score']"]

    shown = run_ledger("runs", "--format", "json", cwd=repo)
    runs = {r["name"]: r for r in json.loads(shown.out)}
    assert runs["manual"]["id"] == run_id and runs["manual"]["status"] == "FINISHED"
    assert runs["manual"]["params"] == {"C": "0.5", "solver": "lbfgs"}
    assert "model/MLmodel" in {a["path"] for a in runs["manual"]["artifacts"]}
    model = json.loads(run_ledger("model", "show", "iris-lr", "--format", "json", cwd=repo).out)
    assert model[0]["version"] == "v0.0.1" and model[0]["stages"] == ["champion"]
    assert model[0]["run_id"] == run_id
    gto = subprocess.run([GTO, "show", "--json"], cwd=repo, capture_output=True, text=True)
    assert gto.returncode == 0, gto.stderr
    assert "iris-lr" in gto.stdout and "v0.0.1" in gto.stdout and "champion" in gto.stdout
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                            text=True).stdout
    assert status.strip() == "?? example.py"  # HEAD, index and work tree untouched
    assert Ledger(repo).get_run(run_id).info.run_name == "manual"
