"""The XGBoost flavor: boosters and the scikit-learn wrappers, in XGBoost's own format
(``model.xgb`` / ``.json`` / ``.ubj``; no pickle), as MLflow writes them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Unpack

from ledger.models.env import version_of
from ledger.models.flavor import Flavor, LogOptions, ModelInfo, Predictor, SaveOptions, Written
from ledger.models.mlmodel import Model


def save_model(xgb_model: Any, path: str | os.PathLike[str], *, model_format: str = "ubj",
               **kwargs: Unpack[SaveOptions]) -> Model:
    """Write a ``Booster`` or an ``XGBModel`` (XGBClassifier, ...) into a new folder."""
    return FLAVOR.save(xgb_model, path, model_format=model_format, **kwargs)


def log_model(xgb_model: Any, name: str | None = None, *, model_format: str = "ubj",
              **kwargs: Unpack[LogOptions]) -> ModelInfo:
    """Save a ``Booster`` or an ``XGBModel`` and log it as artifacts ``NAME/`` of the active run
    (of ``repo``'s, an open ``Ledger``)."""
    return FLAVOR.log(xgb_model, name, model_format=model_format, **kwargs)


def _write(xgb_model: Any, folder: Path, *, model_format: str = "ubj") -> Written:
    data = f"model.{model_format}"
    xgb_model.save_model(str(folder / data))
    cls = type(xgb_model)
    return Written({"xgb_version": version_of("xgboost"), "data": data,
                    "model_class": f"{cls.__module__}.{cls.__name__}",
                    "model_format": model_format}, data, ["xgboost"])


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    module, _, name = str(conf.get("model_class", "xgboost.core.Booster")).rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    model = cls()
    model.load_model(str(folder / conf["data"]))
    return model


FLAVOR = Flavor("xgboost", "mlflow.xgboost", "data", _write, _load)
load_model = FLAVOR.load


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    import xgboost as xgb

    model = FLAVOR.native(folder, metadata)
    if isinstance(model, xgb.Booster):
        return Predictor(model, convert=xgb.DMatrix)
    return Predictor(model)
