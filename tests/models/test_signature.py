"""Signatures: inference, MLflow's JSON form, and enforcement at predict time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ledger.errors import ModelSchemaError
from ledger.models import ModelSignature, infer_signature
from ledger.models.enforce import enforce
from ledger.models.signature import ColSpec, Schema, TensorSpec


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0], "b": np.array([1, 2], dtype="int32"),
                         "c": ["x", "y"], "d": [True, False]})


def test_infer_from_a_frame_and_an_array() -> None:
    sig = infer_signature(frame(), np.array([0, 1]))
    assert sig.inputs == Schema((ColSpec("double", "a"), ColSpec("integer", "b"),
                                 ColSpec("string", "c"), ColSpec("boolean", "d")))
    assert sig.outputs == Schema((TensorSpec("int64", (-1,)),))
    tensor = infer_signature(np.zeros((3, 4), dtype="float32")).inputs
    assert tensor == Schema((TensorSpec("float32", (-1, 4)),))


def test_the_json_form_is_mlflows() -> None:
    sig = infer_signature(frame(), pd.Series([1, 2], name="y"), params={"k": 3})
    data = sig.to_dict()
    assert data["inputs"].startswith('[{"type": "double", "name": "a", "required": true}')
    assert ModelSignature.from_dict(data) == sig
    # MLflow's own parser reads what the ledger writes, and the other way round
    mlflow_models = pytest.importorskip("mlflow.models")
    theirs = mlflow_models.ModelSignature.from_dict(data)
    assert ModelSignature.from_dict(theirs.to_dict()) == sig


def test_enforcement_upcasts_and_drops_extra_columns() -> None:
    schema = infer_signature(frame()).inputs
    assert schema is not None
    given = frame().assign(b=np.array([1, 2], dtype="int8"), extra=[0, 0])[
        ["extra", "d", "c", "b", "a"]]
    out = enforce(given, schema)
    assert list(out.columns) == ["a", "b", "c", "d"]
    assert out["b"].dtype == np.int32
    # a dict of columns and a list of records are accepted too
    plain = frame().drop(columns=["b"])  # JSON-like values: no int32 among them
    schema = infer_signature(plain).inputs
    assert schema is not None
    assert list(enforce(plain.to_dict(orient="list"), schema).columns) == ["a", "c", "d"]
    assert len(enforce(plain.to_dict(orient="records"), schema)) == 2


def test_a_missing_column_is_one_clear_error() -> None:
    schema = infer_signature(frame()).inputs
    assert schema is not None
    with pytest.raises(ModelSchemaError, match=r"Model is missing inputs \['c'\]"):
        enforce(frame().drop(columns=["c"]).assign(z=1), schema)


@pytest.mark.parametrize("column,value,wanted", [
    ("a", ["1", "2"], "Can not safely convert (object|str) to float64"),
    ("b", [1.5, 2.5], "Can not safely convert float64 to int32"),
    ("b", np.array([1, 2], dtype="int64"), "Can not safely convert int64 to int32"),
])
def test_a_mistyped_column_is_refused(column: str, value: object, wanted: str) -> None:
    schema = infer_signature(frame()).inputs
    assert schema is not None
    with pytest.raises(ModelSchemaError, match=wanted):
        enforce(frame().assign(**{column: value}), schema)


def test_tensor_enforcement_checks_shape_and_dtype() -> None:
    schema = Schema((TensorSpec("float32", (-1, 2)),))
    assert enforce([[1, 2], [3, 4]], schema).dtype == np.float32
    with pytest.raises(ModelSchemaError, match="Shape of input"):
        enforce(np.zeros((2, 3), dtype="float32"), schema)
    with pytest.raises(ModelSchemaError, match="does not match expected dtype"):
        enforce(np.array([["a", "b"]]), schema)
