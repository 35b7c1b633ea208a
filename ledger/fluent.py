"""MLflow-style module functions: `ledger.start_run()`, `ledger.log_metric()`, …

They act on this thread's active run (ledger/runs/context.py says how); new runs go to the
repository of LEDGER_REPO or of the current folder.
"""

from __future__ import annotations

import atexit
import os
from typing import TYPE_CHECKING, Any, cast

from ledger.runs.context import Fluent

if TYPE_CHECKING:
    from ledger.api import Ledger


class _Process(Fluent):
    """The module-level fluent API: new runs go to LEDGER_REPO or the current folder's repo."""

    def __init__(self) -> None:
        self._fluent_init()
        self._ledger: Ledger | None = None
        self._ledger_key: str | None = None
        self.repo: str | None = None  # set_tracking_uri (ledger/mlflow_compat) sets it

    def _ledger_for_new_run(self) -> Ledger:
        from ledger.api import Ledger

        key = self.repo or os.environ.get("LEDGER_REPO") or os.getcwd()
        with self._fluent_lock:
            if self._ledger is None or key != self._ledger_key:
                self._ledger, self._ledger_key = Ledger(key), key
                # end open runs at exit before the object stores close (atexit calls the
                # last registered first, and the stores register when first opened)
                atexit.unregister(self._end_all)
                atexit.register(self._end_all)
            return self._ledger


_PROCESS = _Process()
atexit.register(_PROCESS._end_all)

start_run = _PROCESS.start_run
end_run = _PROCESS.end_run
active_run = _PROCESS.active_run
last_active_run = _PROCESS.last_active_run
log_param = _PROCESS.log_param
log_params = _PROCESS.log_params
log_metric = _PROCESS.log_metric
log_metrics = _PROCESS.log_metrics
set_tag = _PROCESS.set_tag
set_tags = _PROCESS.set_tags
delete_tag = _PROCESS.delete_tag
log_artifact = _PROCESS.log_artifact
log_artifacts = _PROCESS.log_artifacts
log_text = _PROCESS.log_text
log_dict = _PROCESS.log_dict
log_input = _PROCESS.log_input
flush = _PROCESS.flush


def _reader() -> Ledger:
    run = _PROCESS.active_run()
    # an active run is always opened through a Ledger handle
    return cast("Ledger", run.ledger) if run is not None else _PROCESS._ledger_for_new_run()


def get_run(run_id: str) -> Any:
    return _reader().get_run(run_id)


def get_metric_history(run_id: str, key: str | None = None) -> Any:
    return _reader().get_metric_history(run_id, key)


def search_runs(where: str | None = None, experiment: str | None = None,
                order_by: list[str] | None = None, max_results: int | None = None,
                include_deleted: bool = False) -> Any:
    return _reader().search_runs(where, experiment, order_by, max_results, include_deleted)
