"""The common predict interface (MLflow's ``python_function`` flavor) and custom Python models.

    class Add(ledger.pyfunc.PythonModel):
        def load_context(self, context):
            self.n = float(open(context.artifacts["n"]).read())
        def predict(self, context, model_input, params=None):
            return model_input["x"] + self.n

    info = ledger.pyfunc.log_model(python_model=Add(), artifacts={"n": "n.txt"})
    model = ledger.pyfunc.load_model(info.model_uri)   # any flavor, any model URI
    model.predict(pandas_frame_or_numpy_or_arrow_or_dict)

A loaded model enforces its signature before predicting. The folder format is MLflow's, so
``mlflow.pyfunc.load_model`` loads these folders, and this module loads MLflow's (for the
flavors it knows: sklearn, xgboost, lightgbm, pytorch, onnx and custom Python models).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError, ModelError
from ledger.models.flavor import ModelInfo, finish, new_folder
from ledger.models.flavor import log_model as _log
from ledger.models.mlmodel import PYFUNC, Model
from ledger.models.signature import ModelSignature, Schema
from ledger.models.uri import Located, locate

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
# MLflow's loader modules, and the ledger module that loads the same folder
LOADERS = {
    "mlflow.sklearn": "ledger.models.sklearn",
    "mlflow.pyfunc.model": "ledger.models.pyfunc",
    "mlflow.xgboost": "ledger.models.xgboost",
    "mlflow.lightgbm": "ledger.models.lightgbm",
    "mlflow.pytorch": "ledger.models.pytorch",
    "mlflow.onnx": "ledger.models.onnx",
}


@dataclass
class PythonModelContext:
    """What ``load_context`` gets: local paths of the model's artifacts, by name."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Subclass it and implement ``predict(self, context, model_input, params=None)`` (the
    ``context`` argument may be left out, as in MLflow 3); ``load_context`` runs once at load."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load what ``predict`` needs from ``context.artifacts``."""

    def predict(self, context: PythonModelContext, model_input: Any,
                params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("implement predict(self, context, model_input, params=None)")

    @property
    def predict_type_hints(self) -> Any:
        """What MLflow's loader asks of a Python model: no type-hint conversion of the input
        (the signature, enforced by the loader, decides)."""
        return _NoTypeHints()


class _NoTypeHints:
    input = None
    output = None


class PyFuncModel:
    """A loaded model behind one ``predict``: input is checked against the signature, then the
    flavor predicts."""

    def __init__(self, impl: Any, metadata: Model, located: Located) -> None:
        self._impl = impl
        self.metadata = metadata
        self.located = located
        self._takes_params = "params" in inspect.signature(impl.predict).parameters

    @property
    def input_schema(self) -> Schema | None:
        sig = self.metadata.signature
        return sig.inputs if sig else None

    @property
    def loader_module(self) -> str:
        return str(self.metadata.flavor(PYFUNC).get("loader_module"))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        from ledger.models.enforce import enforce, to_frame

        schema = self.input_schema
        if schema is not None and schema.inputs:
            data = enforce(data, schema)
        elif isinstance(data, (dict, list)) or type(data).__module__.startswith("pyarrow"):
            data = to_frame(data)
        if self._takes_params:
            return self._impl.predict(data, params=params)
        return self._impl.predict(data)

    def unwrap_python_model(self) -> Any:
        """The flavor's own object (a PythonModel, an estimator, a booster...)."""
        return getattr(self._impl, "python_model", getattr(self._impl, "model", self._impl))

    def __repr__(self) -> str:
        return f"PyFuncModel({self.located.uri!r}, loader={self.loader_module})"


def load_model(model_uri: str | os.PathLike[str], repo: Any = None) -> PyFuncModel:
    """Load any model as a :class:`PyFuncModel` (a folder, ``runs:/``, ``models:/``)."""
    located = locate(model_uri, repo)
    return load_folder(located)


def load_folder(located: Located) -> PyFuncModel:
    metadata = Model.load(located.folder)
    conf = metadata.flavors.get(PYFUNC)
    if conf is None:
        raise ModelError(f"{located.uri}: the model has no python_function flavor (it has: "
                         f"{', '.join(sorted(metadata.flavors))}); load it with its own flavor")
    loader = str(conf.get("loader_module", ""))
    module_name = LOADERS.get(loader, loader if loader.startswith("ledger.models.") else None)
    if module_name is None:
        raise ModelError(f"{located.uri}: no ledger loader for {loader!r}; the ledger loads "
                         f"{', '.join(sorted(LOADERS))}; load this one with mlflow.pyfunc")
    module = importlib.import_module(module_name)
    impl = module.load_pyfunc(located.folder, metadata)
    return PyFuncModel(impl, metadata, located)


# -- custom Python models ----------------------------------------------------------------------
class _PythonModelWrapper:
    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        taken = inspect.signature(python_model.predict).parameters
        self._with_context = "context" in taken
        self._with_params = "params" in taken

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        kwargs = {"params": params} if self._with_params else {}
        if self._with_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)


def load_pyfunc(folder: Path, metadata: Model) -> _PythonModelWrapper:
    """The python_function loader of custom models (``mlflow.pyfunc.model``)."""
    import cloudpickle

    conf = metadata.flavor(PYFUNC)
    if conf.get("python_model") is None:
        raise ModelError(f"{folder}: a models-from-code model; load it with mlflow.pyfunc")
    with open(folder / conf["python_model"], "rb") as f:
        python_model = cloudpickle.load(f)
    artifacts = {name: str(folder / info["path"])
                 for name, info in (conf.get("artifacts") or {}).items()}
    context = PythonModelContext(artifacts, dict(conf.get("model_config") or {}))
    python_model.load_context(context)
    return _PythonModelWrapper(python_model, context)


def save_model(path: str | os.PathLike[str], python_model: Any, *,
               artifacts: dict[str, str] | None = None, signature: ModelSignature | None = None,
               input_example: Any = None, pip_requirements: list[str] | None = None,
               model_config: dict[str, Any] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Write a custom Python model (a :class:`PythonModel`, or a function of the input) and
    copies of its ``artifacts`` (name -> file, folder or model URI) into a new folder."""
    import cloudpickle

    if callable(python_model) and not hasattr(python_model, "predict"):
        python_model = _FunctionModel(python_model)
    if not hasattr(python_model, "predict"):
        raise InvalidInputError("python_model needs a predict method (subclass PythonModel)")
    folder = new_folder(path)
    saved = {}
    for name, source in (artifacts or {}).items():
        local = Path(source) if Path(source).exists() else locate(source).folder
        dest = folder / ARTIFACTS_DIR / local.name
        dest.parent.mkdir(exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, dest)
        else:
            shutil.copy2(local, dest)
        saved[name] = {"path": f"{ARTIFACTS_DIR}/{local.name}", "uri": str(source)}
    with open(folder / PYTHON_MODEL_FILE, "wb") as f:
        cloudpickle.dump(python_model, f)
    extra: dict[str, Any] = {"artifacts": saved} if saved else {}
    if model_config:
        extra["model_config"] = model_config
    return finish(folder, Model(), loader_module="mlflow.pyfunc.model", data_key="python_model",
                  data=PYTHON_MODEL_FILE, libraries=["cloudpickle"],
                  extra_requirements=pip_requirements, signature=signature,
                  input_example=input_example, metadata=metadata,
                  cloudpickle_version=_version("cloudpickle"), code=None, streamable=False,
                  **extra)


def log_model(name: str | None = None, python_model: Any = None, *,
              artifact_path: str | None = None, registered_model_name: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Save a custom Python model and log it into the active run (see :func:`save_model`;
    ``repo=`` an open ``Ledger``: its active run)."""
    return _log(_save_python_model, python_model, name, artifact_path, registered_model_name,
                **kwargs)


def _save_python_model(python_model: Any, path: Path, **kwargs: Any) -> Model:
    return save_model(path, python_model, **kwargs)


class _FunctionModel(PythonModel):
    def __init__(self, func: Any) -> None:
        self.func = func

    def predict(self, context: PythonModelContext, model_input: Any,
                params: dict[str, Any] | None = None) -> Any:
        return self.func(model_input)


def _version(name: str) -> str | None:
    from ledger.models.env import version_of

    return version_of(name)
