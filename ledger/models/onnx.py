"""The ONNX flavor: ``model.onnx`` run with onnxruntime, as MLflow writes it. A DataFrame input
feeds one tensor (its values) or, when the graph has several inputs, one column per input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Unpack

from ledger.models.env import version_of
from ledger.models.flavor import Flavor, LogOptions, ModelInfo, SaveOptions, Written
from ledger.models.mlmodel import Model

MODEL_FILE = "model.onnx"
_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def save_model(onnx_model: Any, path: str | os.PathLike[str],
               **kwargs: Unpack[SaveOptions]) -> Model:
    """Write an ``onnx.ModelProto`` into a new folder."""
    return FLAVOR.save(onnx_model, path, **kwargs)


def log_model(onnx_model: Any, name: str | None = None,
              **kwargs: Unpack[LogOptions]) -> ModelInfo:
    """Save an ``onnx.ModelProto`` and log it as artifacts ``NAME/`` of the active run (of
    ``repo``'s, an open ``Ledger``)."""
    return FLAVOR.log(onnx_model, name, **kwargs)


def _write(onnx_model: Any, folder: Path) -> Written:
    import onnx

    onnx.save_model(onnx_model, str(folder / MODEL_FILE))
    return Written({"onnx_version": version_of("onnx"), "data": MODEL_FILE,
                    "providers": _PROVIDERS}, MODEL_FILE, ["onnx", "onnxruntime"])


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    import onnx

    return onnx.load(str(folder / conf.get("data", MODEL_FILE)))


FLAVOR = Flavor("onnx", "mlflow.onnx", "data", _write, _load)
load_model = FLAVOR.load  # the onnx.ModelProto


class _Session:
    def __init__(self, path: Path, providers: list[str]) -> None:
        import onnxruntime as ort

        available = set(ort.get_available_providers())
        self.model = ort.InferenceSession(str(path), providers=[
            p for p in providers if p in available] or ["CPUExecutionProvider"])
        self.inputs = self.model.get_inputs()
        self.outputs = [o.name for o in self.model.get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            if len(self.inputs) == 1:
                data = {self.inputs[0].name: data.to_numpy()}
            else:
                data = {i.name: data[i.name].to_numpy() for i in self.inputs}
        elif not isinstance(data, dict):
            data = {self.inputs[0].name: np.asarray(data)}
        feed = {i.name: np.asarray(data[i.name]).astype(_numpy_type(i.type), copy=False)
                for i in self.inputs}
        results = self.model.run(None, feed)
        if len(results) == 1:
            return results[0]
        return dict(zip(self.outputs, results))


def _numpy_type(onnx_type: str) -> str:
    names = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
             "tensor(int32)": "int32", "tensor(bool)": "bool", "tensor(string)": "object"}
    return names.get(onnx_type, "float32")


def load_pyfunc(folder: Path, metadata: Model) -> _Session:
    conf = metadata.flavor(FLAVOR.name)
    return _Session(folder / str(conf.get("data", MODEL_FILE)),
                    list(conf.get("providers") or _PROVIDERS))
