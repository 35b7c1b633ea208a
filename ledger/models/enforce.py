"""Schema enforcement at predict time, with MLflow's conversion rules: a column may be upcast
(int32 -> long, float -> double, int -> double, object -> string, any datetime precision),
never narrowed or changed in kind; a missing required column is one clear error naming it.
Extra columns are dropped, as MLflow does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ledger.errors import ModelSchemaError
from ledger.models.signature import COLUMN_TYPES, ColSpec, Schema, TensorSpec


def to_frame(data: Any, names: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from pandas, numpy, Arrow, a dict of columns or a list of records/rows."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas"):
        return data.to_pandas()
    if isinstance(data, dict):
        scalar = all(not isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in data.values())
        return pd.DataFrame([data]) if scalar else pd.DataFrame(data)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return pd.DataFrame.from_records(data)
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1) if names and len(names) == 1 else array.reshape(1, -1)
    if array.ndim != 2:
        raise ModelSchemaError(f"expected tabular input; got an array of shape {array.shape}")
    cols = names if names and len(names) == array.shape[1] else None
    return pd.DataFrame(array, columns=cols)


def enforce(data: Any, schema: Schema) -> Any:
    """``data`` converted to what the signature declares, or :class:`ModelSchemaError`."""
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    frame = to_frame(data, schema.names() if schema.has_names else None)
    specs = [s for s in schema.inputs if isinstance(s, ColSpec)]
    if schema.has_names:
        present = set(map(str, frame.columns))
        missing = [s.name for s in specs if s.required and s.name not in present]
        if missing:
            wanted = {s.name for s in specs}
            extra = [c for c in map(str, frame.columns) if c not in wanted]
            note = f" Note that there were extra inputs: {extra}." if extra else ""
            raise ModelSchemaError(f"Model is missing inputs {missing}.{note}")
        specs = [s for s in specs if s.name in present]
        keys: list[Any] = [s.name for s in specs]
        if list(map(str, frame.columns)) != keys:
            frame = frame[[c for c in frame.columns if str(c) in set(keys)]]
            frame.columns = list(map(str, frame.columns))
            frame = frame[keys]
    else:
        if frame.shape[1] < len(specs):
            raise ModelSchemaError(
                f"Model inference is missing inputs. The model signature declares {len(specs)} "
                f"inputs but the provided value only has {frame.shape[1]} inputs. Note: the "
                "inputs were not named in the signature so we can only verify their count.")
        keys = list(frame.columns[: len(specs)])
    changed = {}
    dtypes = frame.dtypes
    for key, spec in zip(keys, specs):
        if spec.raw is None and dtypes[key] == np.dtype(COLUMN_TYPES[spec.type]) and (
                spec.type not in ("string", "binary")):
            continue  # already what the signature says (the common case, kept cheap)
        column = frame[key]
        cast = _cast_column(str(key), column, spec)
        if cast is not column:
            changed[key] = cast
    if changed:
        frame = frame.assign(**{str(k): v for k, v in changed.items()})
    return frame


def _cast_column(name: str, values: pd.Series, spec: ColSpec) -> pd.Series:
    if spec.raw is not None:  # complex specs (array/object/map) are not enforced
        return values
    kind = spec.type
    if values.dtype == object and kind not in ("string", "binary"):
        values = values.infer_objects()
    if kind in ("string", "binary") and (values.dtype == object
                                         or isinstance(values.dtype, pd.StringDtype)):
        return values
    target = np.dtype(COLUMN_TYPES[kind])
    if values.dtype == target:
        return values
    if kind == "datetime" and (values.dtype.kind == "M" or values.dtype == object):
        try:
            return values.astype(target)
        except (TypeError, ValueError) as exc:
            raise ModelSchemaError(
                f"Failed to convert column {name} from type {values.dtype} to datetime: {exc}"
            ) from exc
    if kind == "boolean" and values.dtype == object:
        return values
    src = values.dtype
    if getattr(src, "kind", "O") == target.kind:
        upcast = src.itemsize <= target.itemsize
    elif src.kind == "u" and target.kind == "i":
        upcast = src.itemsize < target.itemsize
    elif src.kind in "iu" and target == np.float64:
        upcast = src.itemsize <= 6
    else:
        upcast = False
    if upcast or (src == np.int64 and target.kind == "f" and values.isin([0, 1]).all()):
        return values.astype(target)
    hint = ""
    if src == np.float64 and target.kind == "i" and values.isna().any():
        hint = (" Hint: the column holds missing values (NaN); declare it as double, or fill "
                "them, to pass integers.")
    raise ModelSchemaError(f"Incompatible input types for column {name}. Can not safely convert "
                           f"{src} to {target}.{hint}")


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    specs = [s for s in schema.inputs if isinstance(s, TensorSpec)]
    if len(specs) > 1 or (specs and specs[0].name is not None and isinstance(data, dict)):
        if not isinstance(data, dict):
            raise ModelSchemaError(f"the model takes named tensors {schema.names()}; give a dict")
        missing = [s.name for s in specs if s.name not in data]
        if missing:
            raise ModelSchemaError(f"Model is missing inputs {missing}.")
        return {s.name: _tensor(data[s.name], s) for s in specs if s.name is not None}
    if isinstance(data, pd.DataFrame):
        data = data.to_numpy()
    return _tensor(data, specs[0])


def _tensor(value: Any, spec: TensorSpec) -> np.ndarray:
    array = np.asarray(value)
    target = np.dtype(spec.dtype)
    if array.dtype != target:
        same_kind = array.dtype.kind == target.kind and array.dtype.itemsize <= target.itemsize
        int_to_float = array.dtype.kind in "iu" and target.kind == "f"
        if not (same_kind or int_to_float or array.dtype == object):
            raise ModelSchemaError(f"dtype of input {array.dtype} does not match expected dtype "
                                   f"{target}")
        array = array.astype(target)
    shape = spec.shape
    if len(shape) != array.ndim or any(w not in (-1, g) for w, g in zip(shape, array.shape)):
        raise ModelSchemaError(f"Shape of input {array.shape} does not match expected shape "
                               f"{tuple(shape)}")
    return array
