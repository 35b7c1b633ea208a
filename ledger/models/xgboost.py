"""The XGBoost flavor: boosters and the scikit-learn wrappers, in XGBoost's own format
(``model.xgb`` / ``.json`` / ``.ubj``; no pickle), as MLflow writes them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from ledger.models.env import version_of
from ledger.models.flavor import ModelInfo, Predictor, finish, load_native, new_folder
from ledger.models.flavor import log_model as log_model_with
from ledger.models.mlmodel import Model
from ledger.models.signature import ModelSignature

FLAVOR = "xgboost"


def save_model(xgb_model: Any, path: str | os.PathLike[str], *, model_format: str = "ubj",
               signature: ModelSignature | None = None, input_example: Any = None,
               pip_requirements: list[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Write a ``Booster`` or an ``XGBModel`` (XGBClassifier, ...) into a new folder."""
    folder = new_folder(path)
    data = f"model.{model_format}"
    xgb_model.save_model(str(folder / data))
    cls = type(xgb_model)
    model = Model().add_flavor(FLAVOR, xgb_version=version_of("xgboost"), data=data,
                               model_class=f"{cls.__module__}.{cls.__name__}",
                               model_format=model_format, code=None)
    return finish(folder, model, loader_module="mlflow.xgboost", data_key="data", data=data,
                  libraries=["xgboost"], extra_requirements=pip_requirements,
                  signature=signature, input_example=input_example, metadata=metadata)


def log_model(xgb_model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> ModelInfo:
    return log_model_with(save_model, xgb_model, name, artifact_path, registered_model_name,
                          **kwargs)



def load_model(model_uri: str | os.PathLike[str], repo: Any = None) -> Any:
    return load_native(model_uri, repo, FLAVOR, _load)


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    module, _, name = str(conf.get("model_class", "xgboost.core.Booster")).rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    model = cls()
    model.load_model(str(folder / conf["data"]))
    return model


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    import xgboost as xgb

    model = _load(folder, metadata.flavor(FLAVOR))
    if isinstance(model, xgb.Booster):
        return Predictor(model, convert=xgb.DMatrix)
    return Predictor(model)
