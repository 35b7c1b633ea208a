"""The LightGBM flavor: a ``Booster`` in LightGBM's text format (``model.lgb``), or a
scikit-learn wrapper (LGBMClassifier, ...) pickled (``model.pkl``), as MLflow writes them."""

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

FLAVOR = "lightgbm"


def save_model(lgb_model: Any, path: str | os.PathLike[str], *,
               signature: ModelSignature | None = None, input_example: Any = None,
               pip_requirements: list[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Write a ``lightgbm.Booster`` or an ``LGBMModel`` into a new folder."""
    import lightgbm as lgb

    folder = new_folder(path)
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
    model = Model().add_flavor(FLAVOR, lgb_version=version_of("lightgbm"), data=data,
                               model_class=f"{cls.__module__}.{cls.__name__}", code=None)
    return finish(folder, model, loader_module="mlflow.lightgbm", data_key="data", data=data,
                  libraries=libraries, extra_requirements=pip_requirements,
                  signature=signature, input_example=input_example, metadata=metadata)


def log_model(lgb_model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> ModelInfo:
    return log_model_with(save_model, lgb_model, name, artifact_path, registered_model_name,
                          **kwargs)



def load_model(model_uri: str | os.PathLike[str], repo: Any = None) -> Any:
    return load_native(model_uri, repo, FLAVOR, _load)


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


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    return Predictor(_load(folder, metadata.flavor(FLAVOR)))
