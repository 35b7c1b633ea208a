"""`ledger.autolog()` / `ledger.sklearn.autolog()`: log scikit-learn fits as runs, as MLflow's
autologging does: the estimator's params (`get_params`), training metrics, and the fitted model
(through `ledger.sklearn.log_model` where it exists, else pickled as `model/model.pkl`).

Only the outermost `fit` of a thread is logged (a Pipeline's steps are part of it).
"""

from __future__ import annotations

import functools
import importlib
import pickle
import threading
from typing import Any

from ledger import fluent

_state = threading.local()
_patched: dict[type, Any] = {}
_options: dict[str, Any] = {"log_models": True, "disable": False}


def autolog(log_models: bool = True, disable: bool = False, silent: bool = False,
            **_: Any) -> None:
    """Turn autologging of scikit-learn on (or off with `disable=True`)."""
    _options.update(log_models=log_models, disable=disable)
    if disable:
        return
    try:
        from sklearn.utils import all_estimators
    except ImportError:
        return  # nothing to autolog without scikit-learn
    for _name, cls in all_estimators():
        owner = next((c for c in cls.__mro__ if "fit" in c.__dict__), None)
        if owner is not None and owner not in _patched:  # patch where fit is defined
            _patched[owner] = owner.__dict__["fit"]
            owner.fit = _wrap(owner.__dict__["fit"])  # type: ignore[attr-defined]


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _options["disable"] or getattr(_state, "depth", 0):
            return original(self, *args, **kwargs)
        _state.depth = 1
        try:
            return _logged_fit(original, self, *args, **kwargs)
        finally:
            _state.depth = 0

    return fit


def _logged_fit(original: Any, est: Any, *args: Any, **kwargs: Any) -> Any:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    started = fluent.active_run() is None
    run = fluent.active_run() or fluent.start_run()
    try:
        run.log_params({k: _short(v) for k, v in est.get_params(deep=True).items()})
        run.set_tags({"estimator_name": type(est).__name__,
                      "estimator_class": f"{type(est).__module__}.{type(est).__name__}"})
        result = original(est, *args, **kwargs)
        run.log_metrics(training_metrics(est, X, y))
        if _options["log_models"]:
            _log_model(run, est)
    except BaseException:
        if started:
            run.end("FAILED")
        raise
    if started:
        run.end("FINISHED")
    return result


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def training_metrics(est: Any, X: Any, y: Any) -> dict[str, float]:
    """MLflow's `training_*` metrics for classifiers and regressors."""
    if y is None:
        return {}
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    try:
        predicted = est.predict(X)
    except Exception:
        return out
    if is_classifier(est):
        out["training_accuracy_score"] = float(metrics.accuracy_score(y, predicted))
        for name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                         ("f1", metrics.f1_score)):
            out[f"training_{name}_score"] = float(fn(y, predicted, average="weighted",
                                                    zero_division=0))
    elif is_regressor(est):
        mse = float(metrics.mean_squared_error(y, predicted))
        out.update(training_mean_squared_error=mse, training_root_mean_squared_error=mse ** 0.5,
                   training_mean_absolute_error=float(metrics.mean_absolute_error(y, predicted)),
                   training_r2_score=float(metrics.r2_score(y, predicted)))
    try:
        out["training_score"] = float(est.score(X, y))
    except Exception:
        pass
    return out


def _log_model(run: Any, est: Any) -> None:
    try:
        flavor = importlib.import_module("ledger.models.sklearn")  # issue 12's flavor
    except ImportError:
        flavor = None
    log_model = getattr(flavor, "log_model", None)
    if log_model is not None:
        log_model(est, name="model")
    else:
        run._add_bytes(pickle.dumps(est), "model/model.pkl")
