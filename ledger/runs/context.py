"""MLflow's fluent API, written once: the methods behind `ledger.start_run()`,
`ledger.log_metric()`, … (ledger/fluent.py) and the same methods on a `Ledger` handle.

The active run is per thread, as in MLflow >= 2.18: a new thread starts with no active run,
threads each in their own `with start_run()` log into their own runs, and
`start_run(nested=True, parent_run_id=ID)` nests a worker's run under a run of another thread.
A log call without an active run attaches to the run named by LEDGER_RUN_ID (a child process
logging into its parent's run), else starts a run that ends when the process exits, as MLflow
does. An active run belongs to the repository it started in, wherever the process goes.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInputError, RunStateError
from ledger.runs import mlflow_tags

if TYPE_CHECKING:
    from ledger.runs.active import ActiveRun
    from ledger.runs.lifecycle import Runs

PARENT_TAG = "ledger.parent_run_id"
NOTE_TAG = "mlflow.note.content"


class Fluent:
    """The fluent methods over a per-thread stack of active runs. Subclasses say which
    repository new runs go to (`_ledger_for_new_run`)."""

    def _fluent_init(self) -> None:
        self._threads = threading.local()
        self._fluent_lock = threading.RLock()
        self._attached: dict[str, ActiveRun] = {}  # LEDGER_RUN_ID: one attachment per process
        self._open: set[ActiveRun] = set()  # started here, end not committed yet
        self._last: ActiveRun | None = None
        self._experiment: str | None = None  # MLflow's set_experiment: where new runs go

    def _ledger_for_new_run(self) -> Runs:
        raise NotImplementedError

    def _stack(self) -> list[ActiveRun]:
        stack: list[ActiveRun] | None = getattr(self._threads, "stack", None)
        if stack is None:
            stack = self._threads.stack = []
        elif stack and stack[-1].closed:  # ended from another thread (or at a retry)
            stack[:] = [run for run in stack if not run.closed]
        return stack

    # -- starting and ending ------------------------------------------------------------------
    def start_run(self, run_id: str | None = None, experiment: str | None = None,
                  name: str | None = None, tags: dict[str, Any] | None = None,
                  nested: bool = False, params: dict[str, Any] | None = None, *,
                  parent_run_id: str | None = None, run_name: str | None = None,
                  description: str | None = None, experiment_id: str | None = None,
                  log_system_metrics: bool | None = None) -> ActiveRun:
        """Open a run (a context manager: FINISHED on exit, FAILED on an exception, KILLED on
        Ctrl-C) and make it this thread's active run.

        `run_id` resumes an open run. Under LEDGER_RUN_ID (a child process of `ledger exec` or
        `ledger start`), a bare `start_run()` attaches to that run, and one given an experiment,
        name, params or tags starts a child run of it that carries them."""
        if name is not None and run_name is not None and name != run_name:
            raise InvalidInputError("give the run name once: name= or run_name=")
        name = name if name is not None else run_name
        if experiment_id is not None:  # MLflow's experiment ids are names (mlflow_tags)
            experiment = experiment or mlflow_tags.experiment_name(experiment_id)
        if experiment is None and not run_id:
            experiment = self._experiment
        stack = self._stack()
        if stack and not nested and not parent_run_id:
            raise RunStateError(
                f"run {stack[-1].id} is already active in this thread; end it first, or start "
                "a nested run with nested=True")
        env_run = os.environ.get("LEDGER_RUN_ID") or None
        described = any(v is not None for v in (experiment_id, name, tags, params, description)
                        ) or (experiment is not None and experiment != self._experiment)
        if run_id or (env_run and not stack and not nested and not parent_run_id
                      and not described):
            run = self._attach(run_id or env_run or "", shared=run_id is None)
        else:
            lg = stack[-1].ledger if stack else self._ledger_for_new_run()
            parent = parent_run_id or (stack[-1].id if stack else env_run)
            all_tags = dict(tags or {})
            if parent and (nested or parent_run_id or not stack):
                all_tags.setdefault(PARENT_TAG, lg.resolve(parent))
            if description is not None:
                all_tags.setdefault(NOTE_TAG, description)
            run = lg.open_run(experiment, name, all_tags, params)
        stack.append(run)
        with self._fluent_lock:
            self._open.add(run)
            self._last = run
        run.on_end.append(self._forget_run)
        return run

    def _attach(self, run_id: str, shared: bool) -> ActiveRun:
        lg = self._ledger_for_new_run()
        if not shared:
            return lg.attach(run_id)
        with self._fluent_lock:
            run = self._attached.get(run_id)
            if run is None or run.ended:
                run = self._attached[run_id] = lg.attach(run_id)
            return run

    def _forget_run(self, run: ActiveRun) -> None:
        """Off this thread's stack once closed; out of this process's memory once its end is
        committed (until then, `_end_all` retries it at exit)."""
        stack = self._stack()
        if run in stack:
            stack.remove(run)
        if run.ended:
            with self._fluent_lock:
                self._open.discard(run)

    def end_run(self, status: str = "FINISHED") -> None:
        """End this thread's active run (an attached run is flushed, not ended)."""
        stack = self._stack()
        if stack:
            stack[-1].end(status)

    def active_run(self) -> ActiveRun | None:
        """This thread's innermost active run, or None."""
        stack = self._stack()
        return stack[-1] if stack else None

    def last_active_run(self) -> ActiveRun | None:
        """The active run of this thread, else the run most recently started here."""
        return self.active_run() or self._last

    def _current(self, run_id: str | None = None) -> ActiveRun:
        stack = self._stack()
        if run_id:  # MLflow's run_id=: that run if it is active here, else attach to it
            for run in stack:
                if run.id.startswith(run_id):
                    return run
            return self._attach(run_id, shared=True)
        if stack:
            return stack[-1]
        return self.start_run()

    # -- logging into the active run ----------------------------------------------------------
    def log_param(self, key: str, value: Any, synchronous: bool | None = None) -> Any:
        return self._current().log_param(key, value)

    def log_params(self, params: dict[str, Any], synchronous: bool | None = None,
                   run_id: str | None = None) -> None:
        self._current(run_id).log_params(params)

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: int | None = None, *, synchronous: bool | None = None,
                   run_id: str | None = None, **_mlflow: Any) -> None:
        self._current(run_id).log_metric(key, value, step or 0, timestamp)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None,
                    timestamp: int | None = None, *, synchronous: bool | None = None,
                    run_id: str | None = None, **_mlflow: Any) -> None:
        self._current(run_id).log_metrics(metrics, step or 0, timestamp)

    def set_tag(self, key: str, value: Any, synchronous: bool | None = None) -> None:
        self._current().set_tag(key, value)

    def set_tags(self, tags: dict[str, Any], synchronous: bool | None = None) -> None:
        self._current().set_tags(tags)

    def delete_tag(self, key: str) -> None:
        self._current().delete_tag(key)

    def log_artifact(self, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        self._current().log_artifact(local_path, artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        self._current().log_artifacts(local_dir, artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._current().log_text(text, artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        self._current().log_dict(dictionary, artifact_file)

    def log_input(self, dataset: Any, context: str | None = None, store: bool = False,
                  **_mlflow: Any) -> None:
        """A file or folder (fingerprinted on disk; ``store=True`` keeps it in the store of
        large files), or a pandas, Arrow or numpy dataset (fingerprinted in memory)."""
        if isinstance(dataset, (str, os.PathLike)):
            self._current().log_input(dataset, context, store)
        else:
            from ledger.runs import datasets

            self._current().log_input_entry(datasets.fingerprint(dataset, context))

    def flush(self) -> None:
        """Commit what this thread's active run has journaled so far."""
        run = self.active_run()
        if run is not None:
            run.flush()

    def _end_all(self) -> None:
        """At exit, end what is still open in any thread, as MLflow does (an attached run is
        only flushed); the journal keeps whatever cannot be committed now (P1)."""
        with self._fluent_lock:
            runs = sorted(self._open, key=lambda r: r.id, reverse=True)  # children first
        for run in runs:
            try:
                run.end("FINISHED")
            except Exception:
                continue


