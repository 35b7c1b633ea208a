"""ledger: a git-backed ML experiment ledger.

    import ledger
    with ledger.start_run(experiment="iris", name="rf-1") as run:
        ledger.log_param("lr", 0.01)
        ledger.log_metric("acc", 0.91, step=3)

Runs live in your git repository on `refs/ledger/runs`; see README.md.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import LedgerError as LedgerError

__version__ = "0.1.0"

_FLUENT = (
    "start_run", "end_run", "active_run", "log_param", "log_params", "log_metric",
    "log_metrics", "set_tag", "set_tags", "delete_tag", "log_artifact", "log_artifacts",
    "log_text", "log_dict", "log_input", "flush", "get_run", "get_metric_history",
    "last_active_run",
)
# MLflow's names (SPEC §8), for `import ledger as mlflow`
_MLFLOW = (
    "search_runs", "set_experiment", "get_experiment", "get_experiment_by_name",
    "create_experiment", "search_experiments", "set_experiment_tag", "set_experiment_tags",
    "set_tracking_uri", "get_tracking_uri", "get_artifact_uri", "log_figure", "log_image",
    "log_table", "load_table", "log_inputs", "delete_run",
)
_SUBMODULES = ("tracking", "artifacts", "exceptions", "entities")
_MODELS = ("register_model", "promote_model", "load_model_dir")
_FLAVORS = ("sklearn", "pyfunc", "xgboost", "lightgbm", "pytorch", "onnx")  # ledger.models.*
__all__ = [*_FLUENT, *_MODELS, *_MLFLOW, "ActiveRun", "Client", "MlflowClient",  # noqa: PLE0604
           "autolog", "Ledger", "LedgerError", "Run", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `import ledger` stays cheap; dulwich and msgpack load on first use.
    if name in _FLUENT:
        from ledger import fluent

        return getattr(fluent, name)
    if name in _MLFLOW:
        from ledger.mlflow_compat import fluent as mlflow_fluent

        return getattr(mlflow_fluent, name)
    if name in ("Client", "MlflowClient"):
        from ledger.mlflow_compat.client import Client

        return Client
    if name == "autolog":
        from ledger.mlflow_compat.autolog import autolog

        return autolog
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"ledger.{name}")
    if name in _MODELS:
        from ledger.registry import api as models

        return getattr(models, name)
    if name in _FLAVORS or name == "models":
        import importlib

        return importlib.import_module(f"ledger.models{'' if name == 'models' else '.' + name}")
    if name == "Ledger":
        from ledger.api import Ledger

        return Ledger
    if name == "Run":
        from ledger.runs.run import Run

        return Run
    if name == "ActiveRun":
        from ledger.runs.active import ActiveRun

        return ActiveRun
    raise AttributeError(f"module 'ledger' has no attribute {name!r}")
