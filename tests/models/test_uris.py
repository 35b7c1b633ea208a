"""Model URIs: runs:/ (id prefixes too), the registry's versions, @latest, stages, MLflow's
aliases, folders; the verified cache under .git/ledger/models/."""

from __future__ import annotations

from pathlib import Path

import pytest

import ledger
from ledger.errors import InvalidInputError, ModelError, RegistryLookupError
from ledger.models.uri import locate, registry_ref
from tests.conftest import make_repo
from tests.models.conftest import Iris, Logged


@pytest.mark.parametrize("uri,ref", [
    ("models:/iris@v1.2.0", "iris@v1.2.0"), ("models:/iris@latest", "iris@latest"),
    ("models:/iris#production", "iris#production"), ("models:/iris@champion", "iris#champion"),
    ("models:/iris/Production", "iris#production"), ("models:/iris/1.0.0", "iris@v1.0.0"),
    ("models:/team/iris@prod", "team/iris#prod"),
])
def test_registry_references(uri: str, ref: str) -> None:
    assert registry_ref(uri) == ref


def test_every_uri_form_loads_the_same_model(logged: Logged, iris: Iris) -> None:
    ledger.promote_model("iris", "v0.0.1", "production")
    expected = iris.model.predict(iris.X)
    short = f"runs:/{logged.run_id[:12]}/model"
    uris = [logged.uri, short, "models:/iris@v0.0.1", "models:/iris@latest",
            "models:/iris#production", "models:/iris@production"]
    for uri in uris:
        model = ledger.pyfunc.load_model(uri)
        assert (model.predict(iris.X) == expected).all(), uri
        assert model.located.run_id == logged.run_id
    folder = ledger.pyfunc.load_model("models:/iris@latest").located
    assert folder.name == "iris" and folder.version == "v0.0.1"
    assert (ledger.pyfunc.load_model(str(folder.folder)).predict(iris.X) == expected).all()


def test_the_cache_is_keyed_by_tree_and_repaired(logged: Logged) -> None:
    first = locate(logged.uri).folder
    assert first.parent == logged.repo / ".git" / "ledger" / "models"
    assert locate(logged.uri).folder == first
    (first / "model.pkl").write_bytes(b"tampered")
    again = locate(logged.uri).folder
    assert again == first and (again / "model.pkl").read_bytes() != b"tampered"


def test_bad_uris_are_clear_errors(logged: Logged, tmp_path: Path) -> None:
    with pytest.raises(RegistryLookupError):
        locate("models:/iris#staging")
    with pytest.raises(InvalidInputError):
        locate("runs:/abcd")
    with pytest.raises(ModelError, match="neither a model folder"):
        locate(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="no MLmodel"):
        ledger.pyfunc.load_model(str(tmp_path))


def test_log_model_outside_a_run_starts_one(in_repo: Path, iris: Iris) -> None:
    info = ledger.sklearn.log_model(iris.model, name="m")
    ledger.end_run()
    assert ledger.get_run(info.run_id).info.status == "FINISHED"
    assert ledger.sklearn.load_model(info.model_uri).predict(iris.X.head(1)).shape == (1,)


def test_log_model_then_load_inside_the_live_run(in_repo: Path, iris: Iris) -> None:
    with ledger.start_run():
        info = ledger.sklearn.log_model(iris.model, name="live")
        got = ledger.pyfunc.load_model(info.model_uri).predict(iris.X)
    assert (got == iris.model.predict(iris.X)).all()


def test_log_model_with_a_handle_logs_into_the_handles_run(repo: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           iris: Iris) -> None:
    from ledger.api import Ledger

    elsewhere = make_repo(tmp_path / "elsewhere")
    monkeypatch.chdir(elsewhere)  # the module's runs would go here
    lg = Ledger(repo)
    with lg.start_run(experiment="handle") as run:
        info = ledger.sklearn.log_model(iris.model, name="m", repo=lg,
                                        registered_model_name="iris")
        assert ledger.active_run() is None  # the module's active run was not touched
    assert info.run_id == run.id and info.registered_model_version == "v0.0.1"
    assert "m/MLmodel" in {a["path"] for a in lg.get_run(run.id).artifacts}
    native = ledger.sklearn.load_model("models:/iris@latest", repo=lg)
    assert (native.predict(iris.X) == iris.model.predict(iris.X)).all()
    assert Ledger(elsewhere).list_runs() == []
    # without an active run the handle starts one, which stays active as its log calls' do
    started = ledger.sklearn.log_model(iris.model, name="m", repo=lg)
    assert lg.active_run() is not None and lg.active_run().id == started.run_id
    lg.end_run()


def test_log_model_with_a_path_logs_into_a_new_ended_run(repo: Path, iris: Iris) -> None:
    from ledger.api import Ledger

    info = ledger.sklearn.log_model(iris.model, name="m", repo=repo)
    assert ledger.active_run() is None
    lg = Ledger(repo)
    assert lg.active_run() is None
    assert lg.get_run(info.run_id).info.status == "FINISHED"
    native = ledger.sklearn.load_model(info.model_uri, repo=repo)
    assert native.predict(iris.X.head(1)).shape == (1,)


def test_a_failed_save_leaves_no_folder(tmp_path: Path, iris: Iris) -> None:
    with pytest.raises(ModelError, match="has no transform"):
        ledger.sklearn.save_model(iris.model, tmp_path / "new" / "m",
                                  pyfunc_predict_fn="transform")
    assert not (tmp_path / "new" / "m").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="expected tabular input"):  # a bad example
        ledger.sklearn.save_model(iris.model, tmp_path / "empty", input_example=object())
    assert list((tmp_path / "empty").iterdir()) == []
