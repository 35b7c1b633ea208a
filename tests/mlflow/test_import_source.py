"""The sqlite store read directly (`SqliteSource`) hands `ledger import` what MLflow's own
client reads from it: experiments, runs (deleted ones too), params, tags, dataset inputs and
full metric histories, field by field."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from ledger.mlflow_plugin.import_source import ClientSource, SqliteSource, open_source
from tests.mlflow.conftest import run_script

pytestmark = pytest.mark.slow

MAKE_STORE = """
import sys
import mlflow
import pandas as pd

mlflow.set_tracking_uri(sys.argv[1] if len(sys.argv) > 1 else "{uri}")
mlflow.set_experiment("exp-a")
mlflow.set_experiment_tag("team", "vision")
for i in range(3):
    with mlflow.start_run(run_name=f"r{{i}}", tags={{"k": str(i)}}) as run:
        mlflow.log_params({{"i": i, "lr": 0.1}})
        for s in range(3):
            mlflow.log_metric("loss", 1 / (s + 1 + i), step=s)
        mlflow.log_metric("nan", float("nan"))
        if i == 1:
            data = mlflow.data.from_pandas(pd.DataFrame({{"x": [1, 2]}}), name="train-set")
            mlflow.log_input(data, context="training")
mlflow.MlflowClient().delete_run(run.info.run_id)
mlflow.set_experiment("exp-b")
with mlflow.start_run():
    mlflow.log_metric("only", 2.0)
"""


def _runs(source: ClientSource, experiment_id: str) -> dict[str, tuple]:
    out = {}
    for run in source.runs(experiment_id):
        info = run.info
        inputs = sorted((d.dataset.name, d.dataset.digest, d.dataset.source,
                         sorted((t.key, t.value) for t in d.tags))
                        for d in run.inputs.dataset_inputs)
        out[info.run_id] = (info.run_name, info.user_id, info.status, info.start_time,
                            info.end_time, info.lifecycle_stage, info.artifact_uri,
                            dict(run.data.params), dict(run.data.tags), inputs)
    return out


def test_sqlite_read_directly_as_mlflow_reads_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_script(tmp_path, MAKE_STORE.format(uri=uri))
    direct = open_source(uri)
    assert isinstance(direct, SqliteSource)
    client = ClientSource(uri)

    def experiments(source: ClientSource) -> list[tuple]:
        return sorted((e.experiment_id, e.name, e.lifecycle_stage,
                       {k: v for k, v in e.tags.items() if not k.startswith("mlflow.")})
                      for e in source.experiments())

    assert experiments(direct) == experiments(client)
    for exp in client.experiments():
        mine, theirs = _runs(direct, exp.experiment_id), _runs(client, exp.experiment_id)
        assert mine == theirs
        assert [r.info.run_id for r in direct.runs(exp.experiment_id)] == \
            [r.info.run_id for r in client.runs(exp.experiment_id)]  # newest first, both
        runs = list(client.runs(exp.experiment_id))
        got, want = direct.metrics(runs), client.metrics(runs)
        assert set(got) == set(want)
        for rid, points in want.items():
            assert sorted(map(str, got[rid])) == sorted(map(str, points))
    found = [r for e in client.experiments() for r in direct.runs(e.experiment_id)]
    assert any(r.inputs.dataset_inputs for r in found)
    assert any(r.info.lifecycle_stage == "deleted" for r in found)
    assert any(math.isnan(p[3]) for pts in direct.metrics(found).values() for p in pts)
    assert not direct.has_registry() and direct.logged_models(["1"]) == {}


def test_unknown_sqlite_schema_goes_through_mlflow(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (run_uuid TEXT)")
    assert SqliteSource.open(f"sqlite:///{db}") is None
