"""The scikit-learn flavor: ``ledger.sklearn.log_model(estimator)``, ``load_model(uri)``.

Written as MLflow writes it with ``serialization_format="cloudpickle"`` (``model.pkl``); reads
MLflow's pickle, cloudpickle and skops folders. Loading unpickles the file: load models you
trust (asking for the model is the consent; nothing is unpickled before that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ledger.errors import ModelError
from ledger.models.env import version_of
from ledger.models.flavor import ModelInfo, Predictor, finish, load_native, new_folder
from ledger.models.flavor import log_model as log_model_with
from ledger.models.mlmodel import PYFUNC, Model
from ledger.models.signature import ModelSignature

FLAVOR = "sklearn"
MODEL_FILE = "model.pkl"


def save_model(sk_model: Any, path: str | os.PathLike[str], *,
               signature: ModelSignature | None = None, input_example: Any = None,
               pip_requirements: list[str] | None = None, pyfunc_predict_fn: str = "predict",
               metadata: dict[str, Any] | None = None) -> Model:
    """Write ``sk_model`` into a new model folder ``path``."""
    import cloudpickle

    if not hasattr(sk_model, pyfunc_predict_fn):
        raise ModelError(f"the model has no {pyfunc_predict_fn}() method")
    folder = new_folder(path)
    with open(folder / MODEL_FILE, "wb") as f:
        cloudpickle.dump(sk_model, f)
    model = Model().add_flavor(FLAVOR, pickled_model=MODEL_FILE,
                               sklearn_version=version_of("scikit-learn"),
                               serialization_format="cloudpickle", code=None)
    return finish(folder, model, loader_module="mlflow.sklearn", data_key="model_path",
                  data=MODEL_FILE, predict_fn=pyfunc_predict_fn,
                  libraries=["scikit-learn", "cloudpickle"], extra_requirements=pip_requirements,
                  signature=signature, input_example=input_example, metadata=metadata)


def log_model(sk_model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save ``sk_model`` and log it as artifacts ``NAME/`` of the active run."""
    return log_model_with(save_model, sk_model, name, artifact_path, registered_model_name,
                          **kwargs)



def load_model(model_uri: str | os.PathLike[str], repo: Any = None) -> Any:
    """The estimator of a model folder, ``runs:/`` or ``models:/`` URI."""
    return load_native(model_uri, repo, FLAVOR, _load)


def _load(folder: Path, conf: dict[str, Any]) -> Any:
    path = folder / str(conf.get("pickled_model", MODEL_FILE))
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        try:
            import skops.io
        except ImportError as exc:
            raise ModelError("this model was saved with skops; pip install skops") from exc
        trusted = conf.get("skops_trusted_types") or skops.io.get_untrusted_types(file=path)
        return skops.io.load(path, trusted=trusted)
    if fmt not in ("pickle", "cloudpickle"):
        raise ModelError(f"unknown sklearn serialization format {fmt!r}")
    import cloudpickle  # reads plain pickles too

    with open(path, "rb") as f:
        return cloudpickle.load(f)


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    predict_fn = str(metadata.flavors.get(PYFUNC, {}).get("predict_fn") or "predict")
    return Predictor(_load(folder, metadata.flavor(FLAVOR)), predict_fn)


def autolog(**kwargs: Any) -> None:
    """`ledger.sklearn.autolog()`: log every scikit-learn fit as a run (ledger/mlflow_compat)."""
    from ledger.mlflow_compat.autolog import autolog as turn_on

    turn_on(**kwargs)
