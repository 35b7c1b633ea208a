"""Models: MLflow's MLmodel format, flavors (sklearn, pyfunc, xgboost, lightgbm, pytorch, onnx),
signatures and model URIs.

    ledger.models.infer_signature(X, y)      # -> ModelSignature
    ledger.models.Model.load(folder)          # the MLmodel file

Names load lazily: importing this package costs nothing until one is used.
"""

from __future__ import annotations

from typing import Any

_NAMES = {
    "infer_signature": "ledger.models.infer",
    "ModelSignature": "ledger.models.signature",
    "Schema": "ledger.models.signature",
    "ColSpec": "ledger.models.signature",
    "TensorSpec": "ledger.models.signature",
    "Model": "ledger.models.mlmodel",
    "ModelInfo": "ledger.models.flavor",
}
FLAVORS = ("sklearn", "pyfunc", "xgboost", "lightgbm", "pytorch", "onnx")
__all__ = ["ColSpec", "Model", "ModelInfo", "ModelSignature", "Schema", "TensorSpec",
           "infer_signature"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'ledger.models' has no attribute {name!r}")
