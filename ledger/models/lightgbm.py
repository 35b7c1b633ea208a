"""The LightGBM flavor: a ``Booster`` in LightGBM's text format (``model.lgb``), or a
scikit-learn wrapper (LGBMClassifier, ...) pickled (``model.pkl``), as MLflow writes them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Unpack

from ledger.models.env import version_of
from ledger.models.flavor import Flavor, LogOptions, ModelInfo, Predictor, SaveOptions, Written
from ledger.models.mlmodel import Model


def save_model(lgb_model: Any, path: str | os.PathLike[str],
               **kwargs: Unpack[SaveOptions]) -> Model:
    """Write a ``lightgbm.Booster`` or an ``LGBMModel`` into a new folder."""
    return FLAVOR.save(lgb_model, path, **kwargs)


def log_model(lgb_model: Any, name: str | None = None,
              **kwargs: Unpack[LogOptions]) -> ModelInfo:
    """Save a ``lightgbm.Booster`` or an ``LGBMModel`` and log it as artifacts ``NAME/`` of the
    active run (of ``repo``'s, an open ``Ledger``)."""
    return FLAVOR.log(lgb_model, name, **kwargs)


def _write(lgb_model: Any, folder: Path) -> Written:
    import lightgbm as lgb

    if isinstance(lgb_model, lgb.Booster):
        data = "model.lgb"
        lgb_model.save_model(str(folder / data))
        libraries = ["lightgbm"]
    else:
        import cloudpickle

        data = "model.pkl"
        with open(folder / data, "wb") as f:
            cloudpickle.dump(lgb_model, f)
        libraries = ["lightgbm", "cloudpickle"]
    cls = type(lgb_model)
    return Written({"lgb_version": version_of("lightgbm"), "data": data,
                    "model_class": f"{cls.__module__}.{cls.__name__}"}, data, libraries)


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    path = folder / str(conf.get("data", "model.lgb"))
    if path.suffix == ".pkl":
        import cloudpickle

        with open(path, "rb") as f:
            return cloudpickle.load(f)
    module, _, name = str(conf.get("model_class", "lightgbm.basic.Booster")).rpartition(".")
    importlib.import_module(module)
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path))


FLAVOR = Flavor("lightgbm", "mlflow.lightgbm", "data", _write, _load)
load_model = FLAVOR.load


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    return Predictor(FLAVOR.native(folder, metadata))
