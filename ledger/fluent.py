"""MLflow-style module functions: `ledger.start_run()`, `ledger.log_metric()`, ...

They act on the active run of this process: the innermost `start_run`, else the run named by
LEDGER_RUN_ID (attached: this process logs into its parent's run), else a run started on the
first log call and ended when the process exits, as MLflow does.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from ledger.api import Ledger
from ledger.errors import RunStateError
from ledger.runs.active import ActiveRun

_lock = threading.RLock()
_stack: list[ActiveRun] = []
_ledger: Ledger | None = None
_ledger_key: str | None = None


def _default_ledger() -> Ledger:
    global _ledger, _ledger_key
    key = os.environ.get("LEDGER_REPO") or os.getcwd()
    if _ledger is None or key != _ledger_key:
        _ledger = Ledger(key)
        _ledger_key = key
    return _ledger


def start_run(run_id: str | None = None, experiment: str | None = None, name: str | None = None,
              tags: dict[str, Any] | None = None, nested: bool = False,
              params: dict[str, Any] | None = None, repo: str | None = None) -> ActiveRun:
    """Open a run (a context manager: FINISHED on exit, FAILED on an exception, KILLED on
    Ctrl-C). `run_id` (or LEDGER_RUN_ID) attaches to an existing open run instead."""
    with _lock:
        lg = Ledger(repo) if repo else _default_ledger()
        parent = _stack[-1].id if _stack else os.environ.get("LEDGER_RUN_ID") or None
        if _stack and not nested:
            raise RunStateError(
                f"run {_stack[-1].id} is already active; end it first, or start a nested run "
                "with nested=True"
            )
        env_run = os.environ.get("LEDGER_RUN_ID")
        if run_id or (env_run and not nested and not _stack):
            run = lg.attach(run_id or env_run or "")
        else:
            all_tags = dict(tags or {})
            if nested and parent:
                all_tags.setdefault("ledger.parent_run_id", lg.resolve(parent))
            run = lg.start_run(experiment, name, all_tags, params)
        _stack.append(run)
        run.on_end.append(_pop)
        return run


def _pop(run: ActiveRun) -> None:
    with _lock:
        if run in _stack:
            _stack.remove(run)


def active_run() -> ActiveRun | None:
    """The innermost run started with `start_run` in this process, or None."""
    return _stack[-1] if _stack else None


def end_run(status: str = "FINISHED") -> None:
    """End the active run (an attached run is flushed, not ended)."""
    with _lock:
        if _stack:
            run = _stack.pop()
            run.end(status)


def _current() -> ActiveRun:
    with _lock:
        if not _stack:
            start_run()
        return _stack[-1]


def log_param(key: str, value: Any) -> Any:
    return _current().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    _current().log_params(params)


def log_metric(key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
    run = _stack[-1] if _stack else _current()
    run.log_metric(key, value, step, timestamp)


def log_metrics(metrics: dict[str, float], step: int = 0, timestamp: int | None = None) -> None:
    _current().log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _current().set_tag(key, value)


def set_tags(tags: dict[str, Any]) -> None:
    _current().set_tags(tags)


def delete_tag(key: str) -> None:
    _current().delete_tag(key)


def log_artifact(local_path: str, artifact_path: str | None = None) -> None:
    _current().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None) -> None:
    _current().log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _current().log_text(text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    _current().log_dict(dictionary, artifact_file)


def log_input(path: str, context: str | None = None, store: bool = False) -> None:
    _current().log_input(path, context, store)


def flush() -> None:
    """Commit what the active run has journaled so far."""
    if _stack:
        _stack[-1].flush()


def get_run(run_id: str) -> Any:
    return _default_ledger().get_run(run_id)


def get_metric_history(run_id: str, key: str | None = None) -> Any:
    return _default_ledger().get_metric_history(run_id, key)


def search_runs(where: str | None = None, experiment: str | None = None,
                order_by: list[str] | None = None, max_results: int | None = None,
                include_deleted: bool = False) -> Any:
    return _default_ledger().search_runs(where, experiment, order_by, max_results,
                                         include_deleted)


@atexit.register
def _end_all() -> None:
    """At exit, end what is still open, as MLflow does (an attached run is only flushed)."""
    while _stack:
        try:
            _stack.pop().end("FINISHED")
        except Exception:  # the process is exiting; the journal keeps the data (P1)
            pass
