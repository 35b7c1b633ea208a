"""Model signatures in MLflow's JSON form: column specs, tensor specs, and the signature that
pairs an input schema with an output schema (and, verbatim, a params schema).

    {"type": "double", "name": "x", "required": true}
    {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}

Column types are MLflow's: boolean, integer (int32), long (int64), float (float32), double
(float64), string, binary, datetime. Complex specs (array, object, map) are kept verbatim so
that a signature MLflow wrote round-trips, and are not enforced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import InvalidInputError

# MLflow's column type -> numpy dtype name
COLUMN_TYPES: dict[str, str] = {
    "boolean": "bool", "integer": "int32", "long": "int64", "float": "float32",
    "double": "float64", "string": "object", "binary": "object", "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColSpec:
    """One column: an MLflow type, an optional name, required or not."""

    type: str
    name: str | None = None
    required: bool = True
    raw: dict[str, Any] | None = None  # a complex spec (array/object/map), kept verbatim

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return dict(self.raw)
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """A tensor: numpy dtype name and shape (-1 for a variable dimension)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.name is None:
            return {"type": "tensor", "tensor-spec": spec}
        return {"name": self.name, "type": "tensor", "tensor-spec": spec}


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never both, as in MLflow)."""

    inputs: tuple[Spec, ...]

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidInputError("a schema holds either column specs or tensor specs, not both")

    @property
    def is_tensor(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return bool(self.inputs) and all(s.name is not None for s in self.inputs)

    def names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.inputs])

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> Schema:
        items = json.loads(text) if isinstance(text, str) else text
        if not isinstance(items, list):
            raise InvalidInputError(f"a schema is a JSON list of specs, not {text!r:.80}")
        return cls(tuple(_spec(item) for item in items))

    def __str__(self) -> str:
        return ", ".join(_describe(s) for s in self.inputs)


def _spec(item: dict[str, Any]) -> Spec:
    if not isinstance(item, dict) or "type" not in item:
        raise InvalidInputError(f"a schema spec needs a 'type': {item!r:.80}")
    if item["type"] == "tensor":
        tensor = item.get("tensor-spec") or {}
        return TensorSpec(str(tensor.get("dtype")), tuple(int(d) for d in tensor.get("shape", [])),
                          item.get("name"))
    if item["type"] in COLUMN_TYPES:
        return ColSpec(item["type"], item.get("name"), bool(item.get("required", True)))
    return ColSpec(str(item["type"]), item.get("name"), bool(item.get("required", True)),
                   raw=dict(item))


def _describe(spec: Spec) -> str:
    name = f"{spec.name!r}: " if spec.name is not None else ""
    if isinstance(spec, TensorSpec):
        return f"{name}Tensor({spec.dtype!r}, {spec.shape})"
    return f"{name}{spec.type}{'' if spec.required else ' (optional)'}"


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and gives: ``inputs`` and ``outputs`` schemas (either may be None) and
    MLflow's inference-params schema, kept verbatim."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: list[dict[str, Any]] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The MLmodel form: each schema as a JSON string, as MLflow writes it."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps(self.params) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        def schema(key: str) -> Schema | None:
            value = data.get(key)
            return Schema.from_json(value) if value else None

        params = data.get("params")
        return cls(schema("inputs"), schema("outputs"),
                   json.loads(params) if isinstance(params, str) else params)

    def __str__(self) -> str:
        return f"inputs: [{self.inputs or ''}]\noutputs: [{self.outputs or ''}]"
