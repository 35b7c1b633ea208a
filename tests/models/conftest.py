"""Fixtures for the models tests: the iris data, a fitted scikit-learn model, and a repository
where it is logged and registered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Iris:
    X: Any  # pandas DataFrame
    y: Any
    model: Any


@pytest.fixture(scope="session")
def iris() -> Iris:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return Iris(X, y, LogisticRegression(max_iter=500).fit(X, y))


@pytest.fixture
def in_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test repository as the current folder of the fluent API."""
    monkeypatch.chdir(repo)
    return repo


@dataclass
class Logged:
    repo: Path
    run_id: str
    uri: str  # runs:/ID/model


@pytest.fixture
def logged(in_repo: Path, iris: Iris) -> Logged:
    """The iris model logged with a signature and an example, registered as iris@v0.0.1."""
    import ledger
    from ledger.models import infer_signature

    signature = infer_signature(iris.X, iris.model.predict(iris.X))
    with ledger.start_run(experiment="iris") as run:
        info = ledger.sklearn.log_model(iris.model, name="model", signature=signature,
                                        input_example=iris.X.head(3),
                                        registered_model_name="iris")
    assert info.registered_model_version == "v0.0.1"
    return Logged(in_repo, run.id, info.model_uri)
