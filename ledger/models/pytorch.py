"""The PyTorch flavor: the whole module saved with ``torch.save`` (``data/model.pth``, pickled
with cloudpickle) as MLflow writes it; loading unpickles it, so load models you trust. Through
the python_function interface a DataFrame or array goes in as a float32 tensor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Unpack

from ledger.models.env import version_of
from ledger.models.flavor import Flavor, LogOptions, ModelInfo, SaveOptions, Written
from ledger.models.mlmodel import Model

DATA = "data"
MODEL_FILE = "model.pth"
PICKLE_INFO = "pickle_module_info.txt"
# What MLflow records: its module re-exports cloudpickle's dump and pickle's load, so MLflow
# reads these files as its own; without MLflow the ledger reads them with pickle
PICKLE_MODULE = "mlflow.pytorch.pickle_module"


def save_model(pytorch_model: Any, path: str | os.PathLike[str],
               **kwargs: Unpack[SaveOptions]) -> Model:
    """Write a ``torch.nn.Module`` into a new folder."""
    return FLAVOR.save(pytorch_model, path, **kwargs)


def log_model(pytorch_model: Any, name: str | None = None,
              **kwargs: Unpack[LogOptions]) -> ModelInfo:
    """Save a ``torch.nn.Module`` and log it as artifacts ``NAME/`` of the active run (of
    ``repo``'s, an open ``Ledger``)."""
    return FLAVOR.log(pytorch_model, name, **kwargs)


def _write(pytorch_model: Any, folder: Path) -> Written:
    import cloudpickle
    import torch

    data = folder / DATA
    data.mkdir()
    (data / PICKLE_INFO).write_text(PICKLE_MODULE, encoding="utf-8")
    torch.save(pytorch_model, data / MODEL_FILE, pickle_module=cloudpickle)
    return Written({"model_data": DATA, "pytorch_version": version_of("torch")}, DATA,
                   ["torch", "cloudpickle"],
                   {"pickle_module_name": PICKLE_MODULE, "model_config": {"device": None}})


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    import importlib

    import torch

    data = folder / str(conf.get("model_data", DATA))
    info = data / PICKLE_INFO
    name = info.read_text(encoding="utf-8").strip() if info.is_file() else "cloudpickle"
    # cloudpickle (or MLflow's re-export of it) writes plain pickles: pickle reads them
    module = importlib.import_module(
        "pickle" if name == "cloudpickle" or name.startswith("mlflow.") else name)
    if (data / "model.pt2").is_file():
        return torch.export.load(str(data / "model.pt2")).module()
    model = torch.load(data / MODEL_FILE, pickle_module=module, weights_only=False)
    return model


FLAVOR = Flavor("pytorch", "mlflow.pytorch", "data", _write, _load)
load_model = FLAVOR.load


class _Module:
    def __init__(self, model: Any) -> None:
        self.model = model
        model.eval()

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        import torch

        array = data.to_numpy(dtype=np.float32) if isinstance(data, pd.DataFrame) else data
        with torch.no_grad():
            out = self.model(torch.as_tensor(np.asarray(array)))
        return out.detach().cpu().numpy()


def load_pyfunc(folder: Path, metadata: Model) -> _Module:
    return _Module(FLAVOR.native(folder, metadata))
