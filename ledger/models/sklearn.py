"""The scikit-learn flavor: ``ledger.sklearn.log_model(estimator)``, ``load_model(uri)``.

Written as MLflow writes it with ``serialization_format="cloudpickle"`` (``model.pkl``); reads
MLflow's pickle, cloudpickle and skops folders. Loading unpickles the file: load models you
trust (asking for the model is the consent; nothing is unpickled before that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Unpack

from ledger.errors import ModelError
from ledger.models.env import version_of
from ledger.models.flavor import Flavor, LogOptions, ModelInfo, Predictor, SaveOptions, Written
from ledger.models.mlmodel import PYFUNC, Model

MODEL_FILE = "model.pkl"


def save_model(sk_model: Any, path: str | os.PathLike[str], *, pyfunc_predict_fn: str = "predict",
               **kwargs: Unpack[SaveOptions]) -> Model:
    """Write ``sk_model`` into a new model folder ``path``."""
    return FLAVOR.save(sk_model, path, pyfunc_predict_fn=pyfunc_predict_fn, **kwargs)


def log_model(sk_model: Any, name: str | None = None, *, pyfunc_predict_fn: str = "predict",
              **kwargs: Unpack[LogOptions]) -> ModelInfo:
    """Save ``sk_model`` and log it as artifacts ``NAME/`` of the active run (of ``repo``'s,
    an open ``Ledger``)."""
    return FLAVOR.log(sk_model, name, pyfunc_predict_fn=pyfunc_predict_fn, **kwargs)


def _write(sk_model: Any, folder: Path, *, pyfunc_predict_fn: str = "predict") -> Written:
    import cloudpickle

    if not hasattr(sk_model, pyfunc_predict_fn):
        raise ModelError(f"the model has no {pyfunc_predict_fn}() method")
    with open(folder / MODEL_FILE, "wb") as f:
        cloudpickle.dump(sk_model, f)
    return Written({"pickled_model": MODEL_FILE, "sklearn_version": version_of("scikit-learn"),
                    "serialization_format": "cloudpickle"}, MODEL_FILE,
                   ["scikit-learn", "cloudpickle"], {"predict_fn": pyfunc_predict_fn})


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


FLAVOR = Flavor("sklearn", "mlflow.sklearn", "model_path", _write, _load)
load_model = FLAVOR.load


def load_pyfunc(folder: Path, metadata: Model) -> Predictor:
    predict_fn = str(metadata.flavors.get(PYFUNC, {}).get("predict_fn") or "predict")
    return Predictor(FLAVOR.native(folder, metadata), predict_fn)


def autolog(**kwargs: Any) -> None:
    """`ledger.sklearn.autolog()`: log every scikit-learn fit as a run (ledger/mlflow_compat)."""
    from ledger.mlflow_compat.autolog import autolog as turn_on

    turn_on(**kwargs)
