"""Round trips per flavor whose library is installed: log into a run, load back through
runs:/ and the python_function interface, predictions equal to the original model's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ledger
from tests.models.conftest import Iris, Logged


def test_sklearn_round_trip(logged: Logged, iris: Iris) -> None:
    native = ledger.sklearn.load_model(logged.uri)
    assert type(native) is type(iris.model)
    model = ledger.pyfunc.load_model(logged.uri)
    expected = iris.model.predict(iris.X)
    assert (model.predict(iris.X) == expected).all()
    # numpy, Arrow, a dict of columns and a list of records go through the same signature
    import pyarrow as pa

    assert (model.predict(iris.X.to_numpy()) == expected).all()
    assert (model.predict(pa.Table.from_pandas(iris.X)) == expected).all()
    assert (model.predict(iris.X.head(4).to_dict(orient="list")) == expected[:4]).all()
    assert (model.predict(iris.X.head(4).to_dict(orient="records")) == expected[:4]).all()


def test_the_folder_is_mlflows_format(logged: Logged) -> None:
    from ledger.models.mlmodel import Model

    folder = ledger.pyfunc.load_model(logged.uri).located.folder
    names = {p.name for p in folder.iterdir()}
    assert {"MLmodel", "model.pkl", "requirements.txt", "python_env.yaml", "conda.yaml",
            "input_example.json", "serving_input_example.json"} <= names
    meta = Model.load(folder)
    assert meta.run_id == logged.run_id and meta.artifact_path == "model"
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    requirements = (folder / "requirements.txt").read_text()
    from importlib.metadata import version

    assert f"scikit-learn=={version('scikit-learn')}" in requirements
    example = meta.load_input_example(folder)
    assert list(example.columns) == ["sepal_length", "sepal_width", "petal_length",
                                     "petal_width"]


def test_python_model_with_artifacts(in_repo: Path) -> None:
    (in_repo / "offset.txt").write_text("10")

    class AddOffset(ledger.pyfunc.PythonModel):
        def load_context(self, context: Any) -> None:
            self.offset = float(Path(context.artifacts["offset"]).read_text())

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input["x"].to_numpy() + self.offset * (params or {}).get("scale", 1)

    import pandas as pd

    data = pd.DataFrame({"x": [1.0, 2.0]})
    with ledger.start_run():
        info = ledger.pyfunc.log_model(name="adder", python_model=AddOffset(),
                                       artifacts={"offset": str(in_repo / "offset.txt")},
                                       input_example=data)
    model = ledger.pyfunc.load_model(info.model_uri)
    assert model.predict(data).tolist() == [11.0, 12.0]
    assert model.predict(data, params={"scale": 2}).tolist() == [21.0, 22.0]
    assert isinstance(model.unwrap_python_model(), AddOffset)


def test_xgboost_round_trip(in_repo: Path, iris: Iris) -> None:
    xgb = pytest.importorskip("xgboost")
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(iris.X, iris.y)
    booster = clf.get_booster()
    with ledger.start_run():
        a = ledger.xgboost.log_model(clf, name="clf", input_example=iris.X.head(2))
        b = ledger.xgboost.log_model(booster, name="booster")
    assert (ledger.pyfunc.load_model(a.model_uri).predict(iris.X) == clf.predict(iris.X)).all()
    assert type(ledger.xgboost.load_model(a.model_uri)) is xgb.XGBClassifier
    probs = ledger.pyfunc.load_model(b.model_uri).predict(iris.X)
    assert np.allclose(probs, booster.predict(xgb.DMatrix(iris.X)))


def test_lightgbm_round_trip(in_repo: Path, iris: Iris) -> None:
    lgb = pytest.importorskip("lightgbm")
    clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(iris.X, iris.y)
    with ledger.start_run():
        a = ledger.lightgbm.log_model(clf, name="clf")
        b = ledger.lightgbm.log_model(clf.booster_, name="booster")
    assert (ledger.pyfunc.load_model(a.model_uri).predict(iris.X) == clf.predict(iris.X)).all()
    assert np.allclose(ledger.pyfunc.load_model(b.model_uri).predict(iris.X),
                       clf.booster_.predict(iris.X))


def test_onnx_round_trip(in_repo: Path, iris: Iris) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(iris.X, iris.y)
    proto = skl2onnx.convert_sklearn(reg, initial_types=[("input", FloatTensorType([None, 4]))])
    with ledger.start_run():
        info = ledger.onnx.log_model(proto, name="onnx")
    got = ledger.pyfunc.load_model(info.model_uri).predict(iris.X)
    assert np.allclose(got.ravel(), reg.predict(iris.X), atol=1e-4)
    assert ledger.onnx.load_model(info.model_uri).graph.input[0].name == "input"


def test_pytorch_round_trip(in_repo: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    data = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    with ledger.start_run():
        info = ledger.pytorch.log_model(net, name="net", input_example=data)
    got = ledger.pyfunc.load_model(info.model_uri).predict(data)
    assert np.allclose(got, net(torch.as_tensor(data)).detach().numpy())
    assert isinstance(ledger.pytorch.load_model(info.model_uri), torch.nn.Sequential)
