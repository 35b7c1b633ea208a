"""The ONNX flavor: ``model.onnx`` run with onnxruntime, as MLflow writes it. A DataFrame input
feeds one tensor (its values) or, when the graph has several inputs, one column per input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ledger.models.env import version_of
from ledger.models.flavor import ModelInfo, finish, load_native, new_folder
from ledger.models.flavor import log_model as log_model_with
from ledger.models.mlmodel import Model
from ledger.models.signature import ModelSignature

FLAVOR = "onnx"
MODEL_FILE = "model.onnx"
_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def save_model(onnx_model: Any, path: str | os.PathLike[str], *,
               signature: ModelSignature | None = None, input_example: Any = None,
               pip_requirements: list[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Write an ``onnx.ModelProto`` into a new folder."""
    import onnx

    folder = new_folder(path)
    onnx.save_model(onnx_model, str(folder / MODEL_FILE))
    model = Model().add_flavor(FLAVOR, onnx_version=version_of("onnx"), data=MODEL_FILE,
                               providers=_PROVIDERS, code=None)
    return finish(folder, model, loader_module="mlflow.onnx", data_key="data", data=MODEL_FILE,
                  libraries=["onnx", "onnxruntime"], extra_requirements=pip_requirements,
                  signature=signature, input_example=input_example, metadata=metadata)


def log_model(onnx_model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> ModelInfo:
    return log_model_with(save_model, onnx_model, name, artifact_path, registered_model_name,
                          **kwargs)


def load_model(model_uri: str | os.PathLike[str], repo: Any = None) -> Any:
    """The ``onnx.ModelProto``."""
    return load_native(model_uri, repo, FLAVOR, _load)


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    import onnx

    return onnx.load(str(folder / conf.get("data", MODEL_FILE)))


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
    conf = metadata.flavor(FLAVOR)
    return _Session(folder / str(conf.get("data", MODEL_FILE)),
                    list(conf.get("providers") or _PROVIDERS))
