"""MLflow's scoring payloads, in and out: a JSON body with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (and optional ``params``), or CSV text; and
``{"predictions": …}`` back. Shared by the scoring server and batch prediction."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

from ledger.errors import InvalidInputError
from ledger.models.signature import COLUMN_TYPES, ColSpec, Schema, TensorSpec

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class PayloadError(InvalidInputError):
    """A request body that is not a scoring payload (MLflow's BAD_REQUEST)."""


def parse_json(body: bytes | str, schema: Schema | None) -> tuple[Any, dict[str, Any] | None]:
    """The model input and params of a JSON scoring request."""
    try:
        doc = _loads(body)
    except ValueError as exc:
        raise PayloadError(f"Invalid input. Ensure the input is a valid JSON-formatted string. "
                           f"Error: {exc}") from exc
    keys = set(doc) & set(FORMATS) if isinstance(doc, dict) else set()
    if len(keys) != 1:
        got = list(doc) if isinstance(doc, dict) else type(doc).__name__
        raise PayloadError(
            "The input must be a JSON dictionary with exactly one of the input fields "
            f"{{{', '.join(repr(f) for f in FORMATS)}}}. Received dictionary with input "
            f"fields: {got}")
    key = keys.pop()
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError("'params' must be a JSON object")
    value = doc[key]
    try:
        if key == "dataframe_split":
            if not isinstance(value, dict) or "data" not in value:
                raise PayloadError("dataframe_split takes {\"columns\": [...], \"data\": [[...]]}")
            return split_frame(value, schema), params
        if key == "dataframe_records":
            if not isinstance(value, list):
                raise PayloadError("dataframe_records takes a list of records")
            return coerce(pd.DataFrame.from_records(value), schema), params
        return _tensor_input(value, schema), params
    except PayloadError:
        raise
    except (ValueError, TypeError, AssertionError) as exc:
        raise PayloadError(f"Failed to parse data as a {key} payload. Error: '{exc}'") from exc


def _loads(body: bytes | str) -> Any:
    """JSON with orjson where installed (several times faster on large payloads); what it
    refuses (NaN, Infinity, which Python's json accepts as MLflow does) falls back to json."""
    try:
        import orjson
    except ImportError:
        return json.loads(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def split_frame(value: dict[str, Any], schema: Schema | None) -> pd.DataFrame:
    """A ``dataframe_split`` body as a DataFrame; all-float signatures take a fast path (one
    float64 block instead of a column-by-column type inference)."""
    columns = value.get("columns")
    if (schema is not None and schema.has_names and columns is not None
            and all(isinstance(s, ColSpec) and s.type == "double" for s in schema.inputs)):
        try:
            array = np.asarray(value["data"], dtype=np.float64)
        except (TypeError, ValueError):
            array = None  # not all numbers: the general path says which column is wrong
        if array is not None and array.ndim == 2 and array.shape[1] == len(columns):
            return pd.DataFrame(array, columns=columns, copy=False)
    return coerce(pd.DataFrame(value["data"], columns=columns), schema)


def parse_csv(body: bytes | str, schema: Schema | None) -> pd.DataFrame:
    data = body.encode() if isinstance(body, str) else body
    try:
        return coerce(pd.read_csv(io.BytesIO(data)), schema)
    except (ValueError, pd.errors.ParserError) as exc:
        raise PayloadError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            f"CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            f"method. Error: '{exc}'") from exc


def coerce(frame: pd.DataFrame, schema: Schema | None) -> pd.DataFrame:
    """JSON and CSV numbers to the signature's float columns (JSON has no int/float split)."""
    if schema is None or schema.is_tensor or not schema.has_names:
        return frame
    changes: dict[str, Any] = {}
    for spec in schema.inputs:
        if isinstance(spec, ColSpec) and spec.raw is None and spec.name in frame.columns:
            target = np.dtype(COLUMN_TYPES[spec.type])
            column = frame[spec.name]
            if target.kind == "f" and column.dtype.kind in "iu" and column.dtype != target:
                changes[str(spec.name)] = column.astype(target)
    return frame.assign(**changes) if changes else frame


def _tensor_input(value: Any, schema: Schema | None) -> Any:
    if schema is not None and schema.is_tensor:
        specs = [s for s in schema.inputs if isinstance(s, TensorSpec)]
        if isinstance(value, dict):
            dtypes = {s.name: s.dtype for s in specs}
            return {k: np.asarray(v, dtype=dtypes.get(k)) for k, v in value.items()}
        return np.asarray(value, dtype=specs[0].dtype)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return coerce(pd.DataFrame.from_records(value), schema)
    if isinstance(value, dict):
        if schema is not None and schema.has_names:
            return coerce(pd.DataFrame({k: v if isinstance(v, list) else [v]
                                        for k, v in value.items()}), schema)
        return {k: np.asarray(v) for k, v in value.items()}
    if schema is not None and schema.has_names and isinstance(value, list):
        return coerce(pd.DataFrame(value, columns=schema.names()), schema)
    return np.asarray(value)


def jsonable(predictions: Any) -> Any:
    """Predictions as plain JSON values (numpy and pandas converted, records for frames)."""
    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    if isinstance(predictions, pd.DataFrame):
        return json.loads(predictions.to_json(orient="records"))
    if isinstance(predictions, pd.Series):
        return json.loads(predictions.to_frame().to_json(orient="records"))
    if isinstance(predictions, dict):
        return {k: jsonable(v) for k, v in predictions.items()}
    if isinstance(predictions, (list, tuple)):
        return [jsonable(v) for v in predictions]
    if isinstance(predictions, np.generic):
        return predictions.item()
    if hasattr(predictions, "to_pylist"):  # Arrow
        return predictions.to_pylist()
    return predictions


def predictions_json(predictions: Any) -> bytes:
    """MLflow's response body: ``{"predictions": …}``."""
    return json.dumps({"predictions": jsonable(predictions)}, allow_nan=True).encode()
