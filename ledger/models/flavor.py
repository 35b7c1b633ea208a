"""What every flavor shares: a fresh model folder, the MLmodel file with its python_function
entry, the environment files and input example, and logging the folder into the active run
(and registering it)."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError
from ledger.models.env import pinned, write_env
from ledger.models.mlmodel import PYFUNC, Model, save_input_example
from ledger.models.signature import ModelSignature


@dataclass(frozen=True)
class ModelInfo:
    """A logged model: ``model_uri`` (``runs:/ID/NAME``) loads it back."""

    model_uri: str
    artifact_path: str
    run_id: str
    flavors: dict[str, Any]
    signature: ModelSignature | None
    model_uuid: str
    utc_time_created: str
    registered_model_version: str | None = None
    metadata: dict[str, Any] | None = field(default=None)


def new_folder(path: str | os.PathLike[str]) -> Path:
    """A model folder to write into: new, or existing and empty (as MLflow requires)."""
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidInputError(f"{folder} exists already; save the model into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def finish(folder: Path, model: Model, *, loader_module: str | None, data_key: str,
           data: str, libraries: list[str], signature: ModelSignature | None,
           input_example: Any, metadata: dict[str, Any] | None = None,
           extra_requirements: list[str] | None = None, **pyfunc: Any) -> Model:
    """Complete a model folder whose flavor files are written: the python_function entry
    (``loader_module`` None: no pyfunc), the environment, signature, example, MLmodel."""
    if input_example is not None:
        model.saved_input_example_info = save_input_example(folder, input_example)
    if signature is None and input_example is not None:
        from ledger.models.infer import infer_signature

        signature = infer_signature(input_example)
    model.signature = signature
    model.metadata = metadata
    env = write_env(folder, pinned(libraries, extra_requirements))
    if loader_module is not None:
        conf = {"loader_module": loader_module, data_key: data, "env": env,
                "python_version": platform.python_version(), **pyfunc}
        model.flavors = {PYFUNC: conf, **model.flavors}
    model.extra["model_size_bytes"] = sum(p.stat().st_size for p in folder.rglob("*")
                                          if p.is_file())
    model.save(folder)
    return model


def log_model(save: Callable[..., Model], model: Any, name: str | None,
              artifact_path: str | None, registered_model_name: str | None,
              **kwargs: Any) -> ModelInfo:
    """Save with ``save(model, path, **kwargs)`` into a temporary folder, then log it as
    artifacts ``NAME/`` of the active run (one is started if none is) and, if asked, register
    it."""
    from ledger import fluent, names

    where = names.check_artifact_path(name or artifact_path or "model")
    run = fluent.active_run() or fluent.start_run()
    with tempfile.TemporaryDirectory(prefix="ledger-model-") as tmp:
        folder = Path(tmp) / "model"
        saved = save(model, folder, **kwargs)
        saved.run_id = run.id
        saved.artifact_path = where
        saved.save(folder)
        run.log_artifacts(folder, artifact_path=where)
    version = None
    if registered_model_name is not None:
        from ledger.registry.api import register_model

        run.flush()
        done = register_model(registered_model_name, run.id, path=where,
                              allow_unfinished=True, repo=run.ledger.path)
        version = done.version
    return ModelInfo(f"runs:/{run.id}/{where}", where, run.id, saved.flavors, saved.signature,
                     saved.model_uuid, saved.utc_time_created, version, saved.metadata)


def load_native(model_uri: str | os.PathLike[str], repo: Any, flavor: str,
                load: Callable[[Path, dict[str, Any]], Any]) -> Any:
    """A flavor's own object: ``load(folder, flavor configuration)`` of the model at a URI."""
    from ledger.models.uri import locate

    folder = locate(model_uri, repo).folder
    return load(folder, Model.load(folder).flavor(flavor))


class Predictor:
    """A flavor's native model behind ``predict(data)``, for the python_function interface."""

    def __init__(self, model: Any, predict_fn: str = "predict",
                 convert: Callable[[Any], Any] | None = None) -> None:
        self.model = model
        self._predict = getattr(model, predict_fn)
        self._convert = convert

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predict(self._convert(data) if self._convert else data)
