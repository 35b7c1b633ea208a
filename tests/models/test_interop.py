"""Interop with the real mlflow package, both ways: MLflow loads what the ledger wrote and the
ledger loads what MLflow wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ledger
from tests.models.conftest import Iris, Logged

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow


def test_mlflow_loads_a_ledger_sklearn_model(logged: Logged, iris: Iris) -> None:
    import mlflow.pyfunc

    folder = ledger.pyfunc.load_model("models:/iris@latest").located.folder
    theirs = mlflow.pyfunc.load_model(str(folder))
    assert (theirs.predict(iris.X) == iris.model.predict(iris.X)).all()
    assert theirs.metadata.get_input_schema().input_names() == list(iris.X.columns)
    import mlflow.sklearn

    assert type(mlflow.sklearn.load_model(str(folder))) is type(iris.model)


class Doubler(ledger.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["x"].to_numpy() * self.factor


def test_mlflow_loads_a_ledger_python_model(tmp_path: Path) -> None:
    import mlflow.pyfunc

    (tmp_path / "factor.txt").write_text("2")
    folder = tmp_path / "doubler"
    ledger.pyfunc.save_model(folder, python_model=Doubler(),
                             artifacts={"factor": str(tmp_path / "factor.txt")},
                             input_example=pd.DataFrame({"x": [1.0]}))
    data = pd.DataFrame({"x": [1.0, 3.0]})
    assert list(mlflow.pyfunc.load_model(str(folder)).predict(data)) == [2.0, 6.0]
    assert list(ledger.pyfunc.load_model(folder).predict(data)) == [2.0, 6.0]


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_the_ledger_loads_mlflow_sklearn_folders(tmp_path: Path, iris: Iris, fmt: str) -> None:
    import mlflow.sklearn

    if fmt == "skops":
        pytest.importorskip("skops")
    folder = tmp_path / fmt
    signature = mlflow.models.infer_signature(iris.X, iris.model.predict(iris.X))
    mlflow.sklearn.save_model(iris.model, str(folder), serialization_format=fmt,
                              signature=signature, input_example=iris.X.head(2))
    model = ledger.pyfunc.load_model(folder)
    assert (model.predict(iris.X) == iris.model.predict(iris.X)).all()
    assert model.input_schema is not None and model.input_schema.names() == list(iris.X.columns)
    assert type(ledger.sklearn.load_model(folder)) is type(iris.model)


def test_the_ledger_loads_an_mlflow_python_model(tmp_path: Path) -> None:
    import mlflow.pyfunc

    class Plus(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input["x"] + 1

    mlflow.pyfunc.save_model(str(tmp_path / "plus"), python_model=Plus())
    got = ledger.pyfunc.load_model(tmp_path / "plus").predict(pd.DataFrame({"x": [1, 2]}))
    assert list(got) == [2, 3]


def test_mlflow_loads_a_ledger_pytorch_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import mlflow.pyfunc
    import numpy as np

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    ledger.pytorch.save_model(net, tmp_path / "net")
    data = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    expected = net(torch.as_tensor(data)).detach().numpy()
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "net")).predict(pd.DataFrame(data))
    assert np.allclose(np.asarray(theirs), expected, atol=1e-6)
    assert np.allclose(ledger.pyfunc.load_model(tmp_path / "net").predict(data), expected)

