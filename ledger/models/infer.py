"""Infer a signature from example data, as ``mlflow.models.infer_signature`` does: a pandas
DataFrame (or a dict of columns, an Arrow table, a list of records) gives column specs; a numpy
array gives a tensor spec with a variable first dimension; a Series or a list gives one unnamed
column."""

from __future__ import annotations

from typing import Any

import numpy as np

from ledger.errors import InvalidInputError
from ledger.models.signature import ColSpec, ModelSignature, Schema, Spec, TensorSpec


def infer_signature(model_input: Any = None, model_output: Any = None,
                    params: dict[str, Any] | None = None) -> ModelSignature:
    """The signature of a model that takes ``model_input`` and gives ``model_output``."""
    inputs = infer_schema(model_input) if model_input is not None else None
    outputs = infer_schema(model_output) if model_output is not None else None
    return ModelSignature(inputs, outputs, _params_schema(params) if params else None)


def infer_schema(data: Any) -> Schema:
    """The schema of one example value."""
    import pandas as pd

    if _is_arrow(data):
        data = data.to_pandas()
    if isinstance(data, dict) and data and all(isinstance(v, np.ndarray) for v in data.values()):
        return Schema(tuple(_tensor(v, str(k)) for k, v in data.items()))
    if isinstance(data, dict):
        data = pd.DataFrame({k: v if isinstance(v, (list, np.ndarray, pd.Series)) else [v]
                             for k, v in data.items()})
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        data = pd.DataFrame.from_records(data)
    elif isinstance(data, (list, tuple)):
        data = pd.Series(list(data))
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(column_type(data[c]), str(c), not bool(data[c].isna().any()))
                            for c in data.columns))
    if isinstance(data, pd.Series):
        name = None if data.name is None else str(data.name)
        return Schema((ColSpec(column_type(data), name),))
    if isinstance(data, np.ndarray):
        return Schema((_tensor(data),))
    if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
        return Schema((_tensor(data.detach().cpu().numpy()),))
    if isinstance(data, (str, bytes, bool, int, float)):
        return infer_schema([data])
    raise InvalidInputError(f"cannot infer a schema from {type(data).__name__}; give a pandas "
                            "DataFrame, a numpy array, a dict of columns or a list")


def column_type(values: Any) -> str:
    """MLflow's type of a pandas column."""
    dtype = values.dtype
    kind = dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if dtype.itemsize > 4 or (kind == "u" and dtype.itemsize == 4) else "integer"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind in "OUT" or str(dtype) in ("string", "str"):
        sample = values.dropna()
        if len(sample) and all(isinstance(v, (bytes, bytearray)) for v in sample[:100]):
            return "binary"
        if all(isinstance(v, str) for v in sample[:100]):
            return "string"
    raise InvalidInputError(f"column {values.name!r} of dtype {dtype} has no MLflow type; convert "
                            "it to numbers, booleans, strings, bytes or datetimes")


def _tensor(array: np.ndarray, name: str | None = None) -> Spec:
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    return TensorSpec(str(array.dtype), tuple(int(d) for d in shape), name)


_PARAM_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def _params_schema(params: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in params.items():
        kind = _PARAM_TYPES.get(type(value))
        if kind is None:
            raise InvalidInputError(f"param {key!r}: give a bool, int, float or str default")
        out.append({"name": key, "type": kind, "default": value, "shape": None})
    return out


def _is_arrow(data: Any) -> bool:
    return type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas")
