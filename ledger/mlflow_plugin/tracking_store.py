"""MLflow's tracking store over the ledger (`ledger:///abs/repo`, `ledger:rel/repo`).

Runs created here are journaled like the ledger's own (every call appended, committed when the
run ends, on a flush every few seconds, and before a search in this process); runs created
elsewhere are edited by one commit per call. Experiments are `ledger.mlflow_compat.experiments`
(ids are names, "0" the default), logged models `ledger.mlflow_plugin.logged_models`.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_MAX_RESULTS_THRESHOLD
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.validation import _validate_batch_log_limits

from ledger.mlflow_compat import experiments, search
from ledger.mlflow_compat.client import _experiment_matches
from ledger.mlflow_plugin import common, logged_models
from ledger.mlflow_plugin.common import translated
from ledger.runs import datasets as ledger_datasets
from ledger.runs import mlflow_tags
from ledger.runs.run import Run as LedgerRun

CONTEXT_TAG = ledger_datasets.CONTEXT_TAG


def _experiment(exp: experiments.Experiment) -> Experiment:
    return Experiment(exp.experiment_id, exp.name, exp.artifact_location, exp.lifecycle_stage,
                      [ExperimentTag(k, v) for k, v in exp.tags.items()], exp.creation_time,
                      exp.last_update_time)


def _status(status: Any) -> str:
    return status if isinstance(status, str) else RunStatus.to_string(status)


def _inputs(entries: list[dict[str, Any]]) -> RunInputs:
    found = []
    for e in entries:
        tags = [InputTag(CONTEXT_TAG, e["context"])] if e.get("context") else []
        name = ledger_datasets.dataset_name(e)
        found.append(DatasetInput(Dataset(name, ledger_datasets.dataset_digest(e), "local",
                                          name), tags))
    return RunInputs(found, [])


def run_entity(run: LedgerRun, artifact_uri: str) -> Run:
    info = RunInfo(run.id, mlflow_tags.experiment_id(run.info.experiment), run.info.user_id,
                   run.info.status, run.info.start_time, run.info.end_time,
                   run.info.lifecycle_stage, artifact_uri, run.info.run_name)
    latest = run.record.latest
    metrics = [Metric(k, v, latest.get(k, (0, 0))[1], latest.get(k, (0, 0))[0])
               for k, v in run.metrics.items()]
    data = RunData(metrics, [Param(k, v) for k, v in run.params.items()],
                   [RunTag(k, v) for k, v in run.data.tags.items()])
    return Run(info, data, _inputs(run.inputs))


class _Data(RunData):
    """MLflow's RunData from the dicts it keeps: its constructor takes a Param and a RunTag
    object per key only to turn them back into dicts, most of a search's cost per run. The
    Metric objects (read only by its proto form) are made when first asked for."""

    def __init__(self, metrics: dict[str, float], params: dict[str, str],
                 tags: dict[str, str]) -> None:
        self._metrics = metrics
        self._params = params
        self._tags = tags
        self._made: list[Metric] | None = None

    @property
    def _metric_objs(self) -> list[Metric]:  # type: ignore[override]
        if self._made is None:
            self._made = [Metric(k, v, 0, 0) for k, v in self._metrics.items()]
        return self._made

    @classmethod
    def _properties(cls) -> list[str]:
        return RunData._properties()  # what repr and iteration show: RunData's own


def row_entity(row: dict[str, Any]) -> Run:
    info = RunInfo(row["run_id"], row["experiment_id"], row["user_id"], row["status"],
                   row["start_time"], row["end_time"], row["lifecycle_stage"],
                   row["artifact_uri"], row["run_name"])
    return Run(info, _Data(row["metrics"], row["params"], row["tags"]))


class LedgerTrackingStore(AbstractStore):
    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.store_uri = store_uri or "ledger:."
        self.ledger = common.ledger_for(self.store_uri)

    # -- experiments --------------------------------------------------------------------------
    @translated
    def search_experiments(self, view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                           filter_string: str | None = None, order_by: Any = None,
                           page_token: Any = None) -> PagedList:
        view = {1: "active", 2: "deleted", 3: "all"}[search.view_type(view_type)]
        found = experiments.list_experiments(self.ledger, view)
        if filter_string:
            found = [e for e in found if _experiment_matches(e, filter_string)]
        found = experiments.sort_experiments(found, list(order_by or []))
        start = int(page_token or 0)
        page = found[start:start + max_results]
        token = str(start + max_results) if start + max_results < len(found) else None
        return PagedList([_experiment(e) for e in page], token)

    @translated
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Any = None) -> str:
        return experiments.create(self.ledger, name, {t.key: t.value for t in tags or []})

    @translated
    def get_experiment(self, experiment_id: str) -> Experiment:
        return _experiment(experiments.get(self.ledger, experiment_id))

    @translated
    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        found = experiments.get_by_name(self.ledger, experiment_name)
        return None if found is None else _experiment(found)

    @translated
    def delete_experiment(self, experiment_id: str) -> None:
        experiments.set_deleted(self.ledger, experiment_id, True)

    @translated
    def restore_experiment(self, experiment_id: str) -> None:
        experiments.set_deleted(self.ledger, experiment_id, False)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        raise common.MlflowException(
            "ledger experiments are named by their runs and cannot be renamed",
            common.INVALID_PARAMETER_VALUE)

    @translated
    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        experiments.set_tag(self.ledger, experiment_id, tag.key, tag.value)

    @translated
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        experiments.delete_tag(self.ledger, experiment_id, key)

    # -- runs ---------------------------------------------------------------------------------
    @translated
    def create_run(self, experiment_id: str, user_id: str, start_time: int, tags: Any,
                   run_name: str | None) -> Run:
        exp = experiments.for_new_run(self.ledger, experiment_id)
        if exp.lifecycle_stage == "deleted":
            raise common.MlflowException(f"experiment {exp.name!r} is deleted",
                                         common.INVALID_PARAMETER_VALUE)
        plain, fields = mlflow_tags.split_system_tags({t.key: t.value for t in tags or []})
        fields.update(user=user_id or fields.get("user"), start_time=start_time)
        name = run_name or fields.pop("name", None)
        run = self.ledger.open_run(exp.name, name, plain, overrides=fields)
        run.flush()  # the run exists for everyone at once
        common.keep_live(run)
        return self.get_run(run.id)

    @translated
    def get_run(self, run_id: str) -> Run:
        run = self.ledger.get_run(run_id)
        return run_entity(run, self.ledger.artifact_uri(run.id))

    @translated
    def update_run_info(self, run_id: str, run_status: Any, end_time: int | None,
                        run_name: str | None) -> RunInfo:
        status = _status(run_status) if run_status is not None else None
        if run_name:
            self._rename(run_id, run_name)
        active = common.live(run_id)
        if status is not None and status != "RUNNING":
            if active is not None:
                active.end(status)
                common.forget(run_id)
            else:
                self.ledger.set_terminated(run_id, status)
        return self.get_run(run_id).info

    def _rename(self, run_id: str, name: str) -> None:
        active = common.live(run_id)
        if active is not None:
            active.flush()
        if self.ledger.get_run(run_id).info.run_name != name:
            self.ledger.rename_run(run_id, name)

    @translated
    def delete_run(self, run_id: str) -> None:
        self._settle(run_id)
        self.ledger.delete_run(run_id)

    @translated
    def restore_run(self, run_id: str) -> None:
        self._settle(run_id)
        self.ledger.restore_run(run_id)

    def _settle(self, run_id: str) -> None:
        active = common.live(run_id)
        if active is not None:
            active.flush()

    @translated
    def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
        _validate_batch_log_limits(metrics or [], params or [], tags or [])  # MLflow's limits
        param_map = {p.key: p.value for p in params or []}
        if len(param_map) < len(params or []):
            raise common.MlflowException(
                "Duplicate parameter keys have been submitted; give one value per key",
                common.INVALID_PARAMETER_VALUE)
        plain = {t.key: t.value for t in tags or []}
        name = plain.pop(mlflow_tags.RUN_NAME, None)
        if name:
            self._rename(run_id, name)
        active = common.live(run_id)
        if active is not None:
            if param_map:
                active.log_params(param_map)
            if plain:
                active.set_tags(plain)
            for m in metrics or []:
                active.log_metric(m.key, m.value, int(m.step or 0), int(m.timestamp))
            return
        points = [(m.key, int(m.step or 0), int(m.timestamp), m.value) for m in metrics or []]
        if param_map or plain or points:
            self.ledger.log_to(run_id, params=param_map, tags=plain, points=points)

    @translated
    def delete_tag(self, run_id: str, key: str) -> None:
        self._settle(run_id)
        if key not in self.ledger.get_run(run_id).tags:  # MLflow: a missing tag is not found
            raise common.not_found(f"No tag with name: {key} in run with id {run_id}")
        self.ledger.delete_run_tags(run_id, [key])

    @translated
    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: Any = None) -> PagedList:
        points = self.ledger.metric_points(run_id, metric_key)
        out = [Metric(k, v, ts, step, run_id=run_id) for k, step, ts, v in points]
        out.sort(key=lambda m: (m.timestamp, m.step))
        return PagedList(out[:max_results] if max_results else out, None)

    @translated
    def _search_runs(self, experiment_ids: Any, filter_string: str | None, run_view_type: Any,
                     max_results: int, order_by: Any, page_token: Any) -> tuple[list[Run], Any]:
        if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
            raise common.MlflowException(
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must "
                f"be at most {SEARCH_MAX_RESULTS_THRESHOLD}", common.INVALID_PARAMETER_VALUE)
        common.flush_live()
        offset = int(page_token or 0)
        found = search.table(self.ledger, experiment_ids, filter_string, run_view_type,
                             max_results + 1, order_by, offset)
        rows = search.rows(self.ledger, found)
        token = str(offset + max_results) if len(rows) > max_results else None
        return [row_entity(r) for r in rows[:max_results]], token

    @translated
    def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
        for d in datasets or []:
            entry = ledger_datasets.mlflow_entry(d)
            active = common.live(run_id)
            if active is None:
                active = self.ledger.attach(run_id)
                active.log_input_entry(entry)
                active.end()
            else:
                active.log_input_entry(entry)

    def log_outputs(self, run_id: str, models: Any) -> None:
        return None  # the run's logged models are found from the run (logged_models)

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        return None  # MLflow 2's model history tag: the logged models replace it

    # -- logged models (MLflow 3) -------------------------------------------------------------
    @translated
    def create_logged_model(self, experiment_id: str, name: str | None = None,
                            source_run_id: str | None = None, tags: Any = None,
                            params: Any = None, model_type: str | None = None) -> Any:
        return logged_models.create(self, experiment_id, name, source_run_id,
                                    {t.key: t.value for t in tags or []}, model_type)

    @translated
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> Any:
        return logged_models.get(self, model_id)

    @translated
    def finalize_logged_model(self, model_id: str, status: Any) -> Any:
        return logged_models.update(self, model_id, status=status)

    @translated
    def set_logged_model_tags(self, model_id: str, tags: Any) -> None:
        logged_models.update(self, model_id, tags={t.key: t.value for t in tags})

    @translated
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        logged_models.update(self, model_id, drop_tag=key)

    @translated
    def search_logged_models(self, experiment_ids: list[str], filter_string: str | None = None,
                             datasets: Any = None, max_results: int | None = None,
                             order_by: Any = None, page_token: Any = None) -> PagedList:
        found = logged_models.search(self, experiment_ids, filter_string)
        return PagedList(found[:max_results] if max_results else found, None)
