"""The ``MLmodel`` file: MLflow's YAML description of a model folder (flavors, signature, input
example, run id). Read and written as MLflow writes it, so either tool loads the other's
models; keys this module does not know are kept as they are."""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import ModelError
from ledger.models.signature import ModelSignature

MLMODEL = "MLmodel"
PYFUNC = "python_function"
INPUT_EXAMPLE = "input_example.json"
SERVING_INPUT_EXAMPLE = "serving_input_example.json"


@dataclass
class Model:
    """An MLmodel file's content."""

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str = field(default_factory=lambda: str(
        datetime.datetime.now(datetime.UTC).replace(tzinfo=None)))
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other keys, verbatim

    def add_flavor(self, name: str, **params: Any) -> Model:
        self.flavors[name] = params
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update({"flavors": self.flavors, "model_uuid": self.model_uuid,
                    "utc_time_created": self.utc_time_created})
        out.setdefault("is_signature_from_type_hint", False)
        out.setdefault("type_hint_from_example", False)
        for key in ("run_id", "artifact_path", "saved_input_example_info", "metadata"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        return out

    def to_yaml(self) -> str:
        import yaml

        return str(yaml.safe_dump(self.to_dict(), default_flow_style=False))

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / MLMODEL
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        data = dict(data)
        flavors = data.pop("flavors", None)
        if not isinstance(flavors, dict) or not flavors:
            raise ModelError("the MLmodel file names no flavors; it is not a model")
        sig = data.pop("signature", None)
        known = {k: data.pop(k) for k in ("run_id", "artifact_path", "utc_time_created",
                                          "model_uuid", "saved_input_example_info", "metadata")
                 if k in data}
        return cls(flavors=flavors, signature=ModelSignature.from_dict(sig) if sig else None,
                   extra=data, **known)

    @classmethod
    def load(cls, folder: str | Path) -> Model:
        """Read ``folder/MLmodel`` (or the MLmodel file itself)."""
        import yaml

        path = Path(folder)
        if path.is_dir():
            path = path / MLMODEL
        if not path.is_file():
            raise ModelError(f"{path.parent} is not a model folder (no MLmodel file in it); "
                             "give a folder that a log_model or save_model wrote")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        except yaml.YAMLError as exc:
            raise ModelError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path} is not an MLmodel file (not a YAML mapping)")
        return cls.from_dict(data)

    def flavor(self, name: str) -> dict[str, Any]:
        conf = self.flavors.get(name)
        if conf is None:
            raise ModelError(f"the model has no {name!r} flavor (it has: "
                             f"{', '.join(sorted(self.flavors))})")
        return conf

    def load_input_example(self, folder: str | Path) -> Any:
        """The saved input example, as a DataFrame or an array, or None."""
        info = self.saved_input_example_info
        if not info:
            return None
        data = json.loads((Path(folder) / info["artifact_path"]).read_text(encoding="utf-8"))
        if info.get("type") == "ndarray":
            import numpy as np

            inputs = data["inputs"] if isinstance(data, dict) and "inputs" in data else data
            if isinstance(inputs, dict):
                return {k: np.asarray(v) for k, v in inputs.items()}
            return np.asarray(inputs)
        import pandas as pd

        return pd.DataFrame(data["data"], columns=data.get("columns"), index=data.get("index"))


def save_input_example(folder: Path, example: Any) -> dict[str, Any]:
    """Write ``input_example.json`` and ``serving_input_example.json`` as MLflow does; the
    ``saved_input_example_info`` for the MLmodel file."""
    import numpy as np

    from ledger.models.enforce import to_frame

    if isinstance(example, np.ndarray) or (isinstance(example, dict) and example and all(
            isinstance(v, np.ndarray) for v in example.values())):
        inputs = ({k: v.tolist() for k, v in example.items()} if isinstance(example, dict)
                  else example.tolist())
        _write_json(folder / INPUT_EXAMPLE, {"inputs": inputs})
        _write_json(folder / SERVING_INPUT_EXAMPLE, {"inputs": inputs}, indent=2)
        return {"artifact_path": INPUT_EXAMPLE, "serving_input_path": SERVING_INPUT_EXAMPLE,
                "type": "ndarray", "format": "tf-serving"}
    frame = to_frame(example)
    split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    _write_json(folder / INPUT_EXAMPLE, split)
    _write_json(folder / SERVING_INPUT_EXAMPLE, {"dataframe_split": split}, indent=2)
    return {"artifact_path": INPUT_EXAMPLE, "pandas_orient": "split",
            "serving_input_path": SERVING_INPUT_EXAMPLE, "type": "dataframe"}


def _write_json(path: Path, data: Any, indent: int | None = None) -> None:
    path.write_text(json.dumps(data, indent=indent), encoding="utf-8")
