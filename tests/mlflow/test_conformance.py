"""MLflow's store expectations, run against the ledger's plugin stores through stock
`MlflowClient(tracking_uri="ledger:///repo")`.

The expectations are the ones MLflow's own store tests hold its stores to
(tests/store/tracking/test_sqlalchemy_store.py, test_file_store.py and
tests/store/model_registry/ in the mlflow repository), written here in our words. Where the
ledger differs on purpose, the test asserts the ledger's behaviour and says why; the README's
list of differences from MLflow names each one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mlflow.conftest import needs_plugin

pytestmark = needs_plugin
mlflow = pytest.importorskip("mlflow")

from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

T0 = 1_700_000_000_000


@pytest.fixture
def client(repo: Path) -> MlflowClient:
    uri = f"ledger://{repo}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def error_code(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The MLflow error code `fn(*args, **kwargs)` raises."""
    with pytest.raises(MlflowException) as info:
        fn(*args, **kwargs)
    return str(info.value.error_code)


# -- experiments ----------------------------------------------------------------------------------

def test_experiments_lifecycle(client: MlflowClient) -> None:
    exp = client.create_experiment("exp-one", tags={"owner": "alice"})
    got = client.get_experiment(exp)
    assert (got.name, got.tags, got.lifecycle_stage) == ("exp-one", {"owner": "alice"}, "active")
    assert client.get_experiment_by_name("exp-one").experiment_id == exp
    assert client.get_experiment_by_name("no-such-experiment") is None
    assert error_code(lambda: client.create_experiment("exp-one")) == "RESOURCE_ALREADY_EXISTS"
    assert error_code(lambda: client.get_experiment("999999")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.create_experiment("")) == "INVALID_PARAMETER_VALUE"

    other = client.create_experiment("exp-two")
    client.delete_experiment(other)
    assert client.get_experiment(other).lifecycle_stage == "deleted"
    assert [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)] == \
        ["exp-two"]
    assert "exp-two" not in [e.name for e in client.search_experiments()]
    assert error_code(lambda: client.create_run(other)) == "INVALID_PARAMETER_VALUE"
    client.restore_experiment(other)
    assert client.get_experiment(other).lifecycle_stage == "active"
    client.set_experiment_tag(other, "k", "v")
    assert client.get_experiment(other).tags == {"k": "v"}
    assert [e.name for e in client.search_experiments(filter_string="name = 'exp-two'")] == \
        ["exp-two"]
    first = client.search_experiments(max_results=1)
    assert len(first) == 1 and first.token is not None
    newest_first = [e.name for e in client.search_experiments(view_type=ViewType.ALL)]
    assert newest_first == ["exp-two", "exp-one", "default"]
    assert [e.name for e in client.search_experiments(order_by=["name DESC"])] == \
        ["exp-two", "exp-one", "default"]
    assert [e.name for e in client.search_experiments(
        filter_string="attribute.`name` != 'exp-one' AND name LIKE 'exp%'")] == ["exp-two"]
    # Deliberate difference: deleting an experiment leaves its runs' own lifecycle alone
    # (MLflow deletes them with it, and restores them all with it).
    run = client.create_run(other).info.run_id
    client.delete_experiment(other)
    assert client.get_run(run).info.lifecycle_stage == "active"
    client.restore_experiment(other)
    # Deliberate difference: the default experiment is "default" (MLflow: "Default"), and an
    # experiment's id is its name, so it cannot be renamed.
    assert client.get_experiment("0").name == "default"
    assert error_code(lambda: client.rename_experiment(exp, "renamed")) == \
        "INVALID_PARAMETER_VALUE"


# -- runs -----------------------------------------------------------------------------------------

def test_run_lifecycle_and_errors(client: MlflowClient) -> None:
    exp = client.create_experiment("runs")
    run = client.create_run(exp, run_name="r1", tags={"team": "vision"}, start_time=T0)
    rid = run.info.run_id
    assert (run.info.status, run.info.lifecycle_stage, run.info.run_name, run.info.end_time,
            run.info.start_time, run.info.experiment_id) == \
        ("RUNNING", "active", "r1", None, T0, exp)
    assert run.data.tags["team"] == "vision" and run.data.tags["mlflow.runName"] == "r1"
    assert error_code(lambda: client.get_run("0" * 32)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.get_run("not-an-id")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.delete_run("0" * 32)) == "RESOURCE_DOES_NOT_EXIST"

    client.update_run(rid, name="renamed")
    got = client.get_run(rid)
    assert got.info.run_name == "renamed" and got.data.tags["mlflow.runName"] == "renamed"
    client.set_terminated(rid, "FAILED")
    assert client.get_run(rid).info.status == "FAILED"
    assert client.get_run(rid).info.end_time is not None
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def test_params_metrics_and_tags(client: MlflowClient) -> None:
    rid = client.create_run("0").info.run_id
    client.log_param(rid, "p", "1")
    client.log_param(rid, "p", "1")  # the same value again is fine
    assert error_code(lambda: client.log_param(rid, "p", "2")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.log_param(rid, "bad$key", "1")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.log_metric(rid, "m", "abc")) == "INVALID_PARAMETER_VALUE"
    for step, value in enumerate([3.0, 1.0, 2.0]):
        client.log_metric(rid, "m", value, timestamp=T0 + step, step=step)
    history = client.get_metric_history(rid, "m")
    assert [(m.key, m.value, m.step, m.timestamp) for m in history] == \
        [("m", 3.0, 0, T0), ("m", 1.0, 1, T0 + 1), ("m", 2.0, 2, T0 + 2)]
    assert client.get_metric_history(rid, "never-logged") == []
    assert client.get_run(rid).data.metrics["m"] == 2.0  # the greatest step's value
    client.log_batch(rid, metrics=[Metric("n", 1.0, T0 + 10, 0), Metric("n", 2.0, T0, 1),
                                   Metric("s", 1.0, T0, 0), Metric("s", 5.0, T0, 0)])
    latest = client.get_run(rid).data.metrics
    assert (latest["n"], latest["s"]) == (2.0, 5.0)  # step, then timestamp, then value
    # Deliberate difference: NaN and +-inf are kept as they are (MLflow's SQL store clips inf
    # to +-1.797e308), SPEC section 2.
    client.log_metric(rid, "inf", float("inf"))
    assert client.get_run(rid).data.metrics["inf"] == float("inf")

    client.set_tag(rid, "t", "old")
    client.set_tag(rid, "t", "new")  # tags can be overwritten
    assert client.get_run(rid).data.tags["t"] == "new"
    client.delete_tag(rid, "t")
    assert "t" not in client.get_run(rid).data.tags
    assert error_code(lambda: client.delete_tag(rid, "t")) == "RESOURCE_DOES_NOT_EXIST"


def test_log_batch_limits_and_errors(client: MlflowClient) -> None:
    rid = client.create_run("0").info.run_id
    client.log_batch(rid, metrics=[Metric("b", 1.0, T0, 0)], params=[Param("bp", "x")],
                     tags=[RunTag("bt", "y")])
    got = client.get_run(rid)
    assert (got.data.metrics["b"], got.data.params["bp"], got.data.tags["bt"]) == \
        (1.0, "x", "y")
    # the store refuses batches over MLflow's limits; the client splits big ones into chunks
    store = client._tracking_client.store
    refused: list[dict[str, Any]] = [
        {"metrics": [Metric(f"k{i}", 1.0, T0, 0) for i in range(1001)]},
        {"params": [Param(f"p{i}", "v") for i in range(101)]},
        {"tags": [RunTag(f"t{i}", "v") for i in range(101)]},
        {"metrics": [Metric(f"k{i}", 1.0, T0, 0) for i in range(901)],
         "params": [Param(f"p{i}", "v") for i in range(100)]},
        {"params": [Param("bp", "changed")]},  # params are immutable
        {"params": [Param("dup", "1"), Param("dup", "2")]},  # one value per key in a batch
    ]
    for batch in refused:
        full = {"metrics": [], "params": [], "tags": [], **batch}
        assert error_code(store.log_batch, rid, **full) == "INVALID_PARAMETER_VALUE"
    got = client.get_run(rid).data
    assert "dup" not in got.params and "k0" not in got.metrics  # refused batches wrote nothing
    client.log_batch(rid, params=[Param(f"p{i}", "v") for i in range(150)])
    assert len(client.get_run(rid).data.params) == 151
    assert error_code(lambda: client.log_batch("0" * 32, params=[Param("a", "1")])) == \
        "RESOURCE_DOES_NOT_EXIST"
    # Deliberate difference: MLflow refuses to log into a deleted run; the ledger's runs take
    # additions while deleted (as `ledger log --run ID` does), restore shows them.
    client.delete_run(rid)
    client.log_param(rid, "after", "1")
    assert client.get_run(rid).data.params["after"] == "1"


# -- search ---------------------------------------------------------------------------------------

def test_search_runs_filters_order_pages_and_views(client: MlflowClient) -> None:
    exp = client.create_experiment("search")
    ids = []
    for i in range(5):
        run = client.create_run(exp, run_name=f"s{i}", start_time=T0 + i * 1000)
        rid = run.info.run_id
        client.log_batch(rid, metrics=[Metric("acc", i / 10, T0, 0)], params=[Param("i", str(i))],
                         tags=[RunTag("parity", "odd" if i % 2 else "even")])
        client.set_terminated(rid)
        ids.append(rid)
    name = {rid: f"s{i}" for i, rid in enumerate(ids)}

    def names(**kw: Any) -> list[str]:
        return [name[r.info.run_id] for r in client.search_runs([exp], **kw)]

    assert names() == ["s4", "s3", "s2", "s1", "s0"]  # newest first by default
    other = client.create_experiment("fresh")
    fresh = client.create_run(other).info.run_id
    assert [r.info.run_id for r in client.search_runs([other])] == [fresh]  # found at once
    assert names(filter_string="metrics.acc >= 0.2 and tags.parity = 'even'") == ["s4", "s2"]
    assert names(filter_string="attributes.run_name = 's3'") == ["s3"]
    assert names(filter_string="tags.`mlflow.runName` LIKE 's%'") == names()
    assert names(filter_string=f"attributes.start_time > {T0 + 2500}") == ["s4", "s3"]
    assert names(filter_string=f"attributes.run_id IN ('{ids[1]}', '{ids[2]}')") == ["s2", "s1"]
    assert names(filter_string="attributes.status = 'FINISHED'") == names()
    assert names(order_by=["metrics.acc DESC"]) == ["s4", "s3", "s2", "s1", "s0"]
    assert names(order_by=["params.i ASC"]) == ["s0", "s1", "s2", "s3", "s4"]
    assert names(order_by=["attributes.run_name DESC"]) == ["s4", "s3", "s2", "s1", "s0"]

    first = client.search_runs([exp], max_results=2, order_by=["metrics.acc ASC"])
    assert [name[r.info.run_id] for r in first] == ["s0", "s1"] and first.token
    seen, token = [], None
    while True:
        page = client.search_runs([exp], max_results=2, page_token=token,
                                  order_by=["metrics.acc ASC"])
        seen += [name[r.info.run_id] for r in page]
        token = page.token
        if not token:
            break
    assert seen == ["s0", "s1", "s2", "s3", "s4"]

    for bad in ({"filter_string": "metrics.acc >> 1"}, {"order_by": ["metrics.acc UP"]},
                {"max_results": 50001}, {"filter_string": "params.i > '1'"}):
        assert error_code(client.search_runs, [exp], **bad) == "INVALID_PARAMETER_VALUE"

    client.delete_run(ids[0])
    assert names() == ["s4", "s3", "s2", "s1"]
    assert names(run_view_type=ViewType.DELETED_ONLY) == ["s0"]
    assert len(names(run_view_type=ViewType.ALL)) == 5


def test_search_runs_on_datasets_and_artifact_uri(client: MlflowClient) -> None:
    import pandas as pd
    from mlflow.entities import DatasetInput, InputTag

    data = pd.DataFrame({"a": [1, 2]})
    train = mlflow.data.from_pandas(data, name="train")
    evaluation = mlflow.data.from_pandas(data.head(1), name="eval")
    context = "mlflow.data.context"
    both = client.create_run("0", run_name="both").info.run_id
    client.log_inputs(both, [
        DatasetInput(train._to_mlflow_entity(), [InputTag(context, "training")]),
        DatasetInput(evaluation._to_mlflow_entity(), [InputTag(context, "eval")])])
    one = client.create_run("0", run_name="one").info.run_id
    client.log_inputs(one, [DatasetInput(train._to_mlflow_entity(), [])])
    client.create_run("0", run_name="none")

    def names(where: str) -> list[str]:
        return sorted(r.info.run_name for r in client.search_runs(["0"], where))

    assert names("datasets.name = 'train'") == ["both", "one"]
    assert names("datasets.name != 'train'") == ["both"]  # some input is not named train
    assert names(f"datasets.digest = '{train.digest}'") == ["both", "one"]  # MLflow's digest
    assert names("datasets.context IN ('eval', 'x')") == ["both"]
    assert names("dataset.name LIKE 'tr%' AND datasets.context = 'eval'") == ["both"]
    uri = client.get_run(one).info.artifact_uri
    assert names(f"attributes.artifact_uri = '{uri}'") == ["one"]
    assert error_code(lambda: names("datasets.name > 'a'")) == "INVALID_PARAMETER_VALUE"
    # the fluent route, as with MLFLOW_TRACKING_URI (set_tracking_uri sets that variable for
    # the whole process: this restores both the URI and the variable)
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(client.tracking_uri):
        frame = mlflow.search_runs(["0"], "datasets.context = 'training'")
    assert list(frame["tags.mlflow.runName"]) == ["both"]
    inputs = client.get_run(both).inputs.dataset_inputs
    assert sorted((d.dataset.name, d.dataset.digest) for d in inputs) == \
        sorted([("train", train.digest), ("eval", evaluation.digest)])


# -- model registry -------------------------------------------------------------------------------

def test_registered_models_versions_and_aliases(client: MlflowClient, tmp_path: Path) -> None:
    run = client.create_run("0")
    rid = run.info.run_id
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(rid, str(tmp_path / "MLmodel"), "model")
    client.set_terminated(rid)
    source = f"runs:/{rid}/model"

    assert client.create_registered_model("reg-model").name == "reg-model"
    assert error_code(lambda: client.get_registered_model("no-model")) == \
        "RESOURCE_DOES_NOT_EXIST"
    first = client.create_model_version("reg-model", source, rid)
    assert (first.version, first.status, first.run_id) == (1, "READY", rid)
    assert client.create_model_version("reg-model", source, rid).version == 2
    assert error_code(lambda: client.create_registered_model("reg-model")) == \
        "RESOURCE_ALREADY_EXISTS"
    assert client.get_model_version("reg-model", "2").version == 2
    assert error_code(lambda: client.get_model_version("reg-model", "9")) == \
        "RESOURCE_DOES_NOT_EXIST"
    assert [v.version for v in client.get_latest_versions("reg-model")] == [2]

    client.set_registered_model_alias("reg-model", "champion", "1")
    assert client.get_model_version_by_alias("reg-model", "champion").version == 1
    assert client.get_registered_model("reg-model").aliases == {"champion": 1}
    client.set_registered_model_alias("reg-model", "champion", "2")  # an alias moves
    assert client.get_model_version("reg-model", "2").aliases == ["champion"]
    assert client.get_model_version("reg-model", "1").aliases == []
    client.delete_registered_model_alias("reg-model", "champion")
    assert client.get_model_version("reg-model", "2").aliases == []
    assert error_code(lambda: client.get_model_version_by_alias("reg-model", "champion")) == \
        "INVALID_PARAMETER_VALUE"  # MLflow's code for a missing alias
    assert error_code(lambda: client.set_registered_model_alias("reg-model", "x", "7")) == \
        "RESOURCE_DOES_NOT_EXIST"

    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'reg%'")] \
        == ["reg-model"]
    assert [m.name for m in client.search_registered_models()] == ["reg-model"]
    assert sorted(v.version for v in client.search_model_versions("name = 'reg-model'")) == [1, 2]
    client.delete_model_version("reg-model", "1")
    assert [v.version for v in client.search_model_versions("name = 'reg-model'")] == [2]
    assert error_code(lambda: client.get_model_version("reg-model", "1")) == \
        "RESOURCE_DOES_NOT_EXIST"
    # version numbers are never reused: the next one is 3
    assert client.create_model_version("reg-model", source, rid).version == 3
    client.delete_registered_model("reg-model")
    assert client.search_registered_models() == []
    assert error_code(lambda: client.get_registered_model("reg-model")) == \
        "RESOURCE_DOES_NOT_EXIST"
