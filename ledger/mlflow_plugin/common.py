"""What the plugin's stores share: one `Ledger` per repository, the runs this process owns
(journaled, committed at their end), and the translation of ledger errors to MLflow's."""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

from ledger.api import Ledger
from ledger.errors import (
    InvalidInputError,
    InvalidRunIdError,
    LedgerError,
    RegistryLookupError,
    RunNotFoundError,
)
from ledger.mlflow_compat import uri
from ledger.mlflow_compat.experiments import ExperimentNotFoundError
from ledger.runs.active import ActiveRun

F = TypeVar("F", bound=Callable[..., Any])
_lock = threading.Lock()
_ledgers: dict[str, Ledger] = {}
_live: dict[str, ActiveRun] = {}  # run id -> a run this process created through MLflow
_unsearched: set[str] = set()  # created here, not yet committed for a search


def ledger_for(store_uri: str) -> Ledger:
    """The one `Ledger` of the repository a `ledger:` URI names."""
    path = uri.repo_path(store_uri)
    with _lock:
        lg = _ledgers.get(path)
        if lg is None:
            lg = _ledgers[path] = Ledger(path)
        return lg


def live(run_id: str) -> ActiveRun | None:
    run = _live.get(run_id)
    return run if run is not None and not run.ended else None


def keep_live(run: ActiveRun) -> None:
    _live[run.id] = run
    _unsearched.add(run.id)


def forget(run_id: str) -> None:
    _live.pop(run_id, None)
    _unsearched.discard(run_id)


def flush_live() -> None:
    """Commit what this process's open runs have journaled (a search sees its own writes),
    and the runs created since the last search (MLflow finds a run as soon as it exists)."""
    for run in list(_live.values()):
        fresh = run.id in _unsearched
        _unsearched.discard(run.id)
        if not run.ended:
            (run.publish if fresh else run.flush)()


@atexit.register
def _commit_at_exit() -> None:
    for run in list(_live.values()):
        try:
            if not run.ended:
                run.flush()
        except Exception:
            continue  # the journal keeps it; the next ledger command recovers it


def already_exists(message: str) -> MlflowException:
    return MlflowException(message, RESOURCE_ALREADY_EXISTS)


def not_found(message: str) -> MlflowException:
    return MlflowException(message, RESOURCE_DOES_NOT_EXIST)


def translated(fn: F) -> F:
    """Raise ledger errors as MlflowException with MLflow's error codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (RunNotFoundError, InvalidRunIdError, ExperimentNotFoundError,
                RegistryLookupError) as exc:  # MLflow: a malformed id is not found
            raise not_found(str(exc)) from exc
        except InvalidInputError as exc:
            code = RESOURCE_ALREADY_EXISTS if "already exists" in str(exc) else \
                INVALID_PARAMETER_VALUE
            raise MlflowException(str(exc), code) from exc
        except LedgerError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc

    return wrapper  # type: ignore[return-value]
