"""What every flavor shares: a fresh model folder, the MLmodel file with its python_function
entry, the environment files and input example, and logging the folder into the active run
(and registering it).

A flavor module describes itself as one :class:`Flavor` (its names, how it writes its files
and reads its object back); ``save_model``, ``log_model`` and ``load_model`` of every flavor
are that description's ``save``, ``log`` and ``load``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ledger.errors import InvalidInputError
from ledger.models.env import pinned, write_env
from ledger.models.mlmodel import PYFUNC, Model, save_input_example
from ledger.models.signature import ModelSignature

if TYPE_CHECKING:
    from ledger.runs.active import ActiveRun


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


class SaveOptions(TypedDict, total=False):
    """What every flavor's ``save_model`` takes besides the model, the folder and the flavor's
    own options."""

    signature: ModelSignature | None
    input_example: Any
    pip_requirements: list[str] | None
    metadata: dict[str, Any] | None


class LogOptions(SaveOptions, total=False):
    """What every flavor's ``log_model`` takes besides the model, its name and the flavor's own
    options (``repo``: a path or an open ``Ledger``, see :func:`log_model`)."""

    artifact_path: str | None
    registered_model_name: str | None
    repo: Any


@dataclass(frozen=True)
class Written:
    """What a flavor's writer put into a new model folder."""

    conf: dict[str, Any]  # the flavor's entry in MLmodel
    data: str  # the file or folder the python_function entry names
    libraries: list[str]  # what requirements.txt pins
    pyfunc: dict[str, Any] = field(default_factory=dict)  # more of the python_function entry


@dataclass(frozen=True)
class Flavor:
    """One flavor, as data: its name in MLmodel, MLflow's python_function loader of the format
    and the key under which that entry names the data, and the two functions that differ from
    flavor to flavor: ``write(native, folder, **options)`` puts the flavor's files into a new
    folder, ``read(folder, MLmodel entry)`` gives the native object back."""

    name: str
    loader_module: str
    data_key: str
    write: Callable[..., Written]
    read: Callable[[Path, dict[str, Any]], Any]

    def save(self, native: Any, path: str | os.PathLike[str], *,
             signature: ModelSignature | None = None, input_example: Any = None,
             pip_requirements: list[str] | None = None, metadata: dict[str, Any] | None = None,
             **options: Any) -> Model:
        """Write ``native`` into a new model folder ``path`` (nothing is left of it if this
        fails)."""
        with _new_folder_or_none(path) as folder:
            written = self.write(native, folder, **options)
            model = Model().add_flavor(self.name, **written.conf, code=None)
            return finish(folder, model, loader_module=self.loader_module,
                          data_key=self.data_key, data=written.data,
                          libraries=written.libraries, extra_requirements=pip_requirements,
                          signature=signature, input_example=input_example, metadata=metadata,
                          **written.pyfunc)

    def log(self, native: Any, name: str | None = None, *, artifact_path: str | None = None,
            registered_model_name: str | None = None, repo: Any = None,
            **kwargs: Any) -> ModelInfo:
        """Save ``native`` and log it as artifacts ``NAME/`` of a run (see :func:`log_model`)."""
        return log_model(self.save, native, name, artifact_path, registered_model_name,
                         repo=repo, **kwargs)

    def load(self, model_uri: str | os.PathLike[str], repo: Any = None) -> Any:
        """The native object of a model folder, ``runs:/`` or ``models:/`` URI."""
        from ledger.models.uri import locate

        folder = locate(model_uri, repo).folder
        return self.native(folder, Model.load(folder))

    def native(self, folder: Path, metadata: Model) -> Any:
        """The native object of a model folder whose MLmodel is read."""
        return self.read(folder, metadata.flavor(self.name))


@contextlib.contextmanager
def _new_folder_or_none(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A new model folder that is removed again (emptied, if it existed) when the block
    fails: a failed save leaves nothing that a second try would find in its way."""
    existed = Path(path).exists()
    folder = new_folder(path)
    try:
        yield folder
    except BaseException:
        if existed:
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def log_model(save: Callable[..., Model], model: Any, name: str | None,
              artifact_path: str | None, registered_model_name: str | None, *,
              repo: Any = None, **kwargs: Any) -> ModelInfo:
    """Save with ``save(model, path, **kwargs)`` into a temporary folder, then log it as
    artifacts ``NAME/`` of a run and, if asked, register it.

    The run: without ``repo``, the module's active run (``ledger.start_run()``); with an open
    ``Ledger``, that handle's active run (``lg.start_run()``); either is started if there is
    none, and stays active, as a log call does. With a path, a new run of that repository,
    ended once the model is logged."""
    from ledger import names

    where = names.check_artifact_path(name or artifact_path or "model")
    with contextlib.ExitStack() as stack:
        run = _run_to_log_into(repo, stack)
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


def _run_to_log_into(repo: Any, stack: contextlib.ExitStack) -> ActiveRun:
    if repo is None:
        from ledger import fluent

        return fluent.active_run() or fluent.start_run()
    if not isinstance(repo, (str, os.PathLike)):  # an open Ledger
        return repo.active_run() or repo.start_run()
    from ledger.api import close_ledger, open_ledger

    lg, opened = open_ledger(repo)
    stack.callback(close_ledger, lg, opened)
    return stack.enter_context(lg.start_run())


class Predictor:
    """A flavor's native model behind ``predict(data)``, for the python_function interface."""

    def __init__(self, model: Any, predict_fn: str = "predict",
                 convert: Callable[[Any], Any] | None = None) -> None:
        self.model = model
        self._predict = getattr(model, predict_fn)
        self._convert = convert

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predict(self._convert(data) if self._convert else data)
