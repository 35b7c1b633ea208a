"""`ledger import URI`: copy an MLflow store (`./mlruns`, `sqlite:///mlflow.db`,
`http://host:port`, any tracking URI) into the ledger through MLflow's own client.

Experiments, runs with their ids, params, full metric histories, tags, status, times and
artifacts (MLflow 3's logged models become artifacts of their source run, under the model's
name), then registered model versions (MLflow's version N in order) and aliases as GTO tags.
Runs are committed in batches; a run already in the ledger is skipped, so a second import adds
nothing and an interrupted one resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import names
from ledger.api import Ledger
from ledger.errors import InvalidInputError, LedgerError
from ledger.mlflow_compat import experiments
from ledger.registry import api as registry
from ledger.registry.tags import is_valid_name
from ledger.runs import datasets, mlflow_tags
from ledger.runs.record import Point, RunRecord, canonical_points
from ledger.runs.store import Update

BATCH = 500
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class ImportSourceError(LedgerError):
    """The MLflow store cannot be read."""


@dataclass
class ImportReport:
    experiments: int = 0
    runs_added: int = 0
    runs_present: int = 0
    versions_added: int = 0
    aliases_added: int = 0
    skipped: list[str] = field(default_factory=list)  # what could not be imported, and why


def _client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    if "://" not in tracking_uri and not tracking_uri.startswith("file:"):
        path = Path(tracking_uri)
        if not path.is_dir():
            raise ImportSourceError(f"{tracking_uri!r} is not an MLflow store: no such folder "
                                    "(give ./mlruns, sqlite:///mlflow.db or http://host:port)")
        tracking_uri = path.resolve().as_uri()
    if tracking_uri.startswith("sqlite:///"):
        db = tracking_uri[len("sqlite:///"):]
        if not Path(db).is_file():
            raise ImportSourceError(f"no MLflow database at {db!r}")
    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        client.search_experiments(max_results=1)
    except LedgerError:
        raise
    except Exception as exc:
        first = " ".join(str(exc).split())[:200]
        raise ImportSourceError(f"cannot read the MLflow store {tracking_uri!r}: {first}"
                                ) from None
    return client


def import_store(tracking_uri: str, repo: str | os.PathLike[str] | Ledger | None = None,
                 only: list[str] | None = None, progress: Progress | None = None
                 ) -> ImportReport:
    """Copy experiments `only` (names; None: all) of an MLflow store into the ledger."""
    from mlflow.entities import ViewType

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours shows it
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads ./mlruns so
    lg = repo if isinstance(repo, Ledger) else Ledger(repo)
    client = _client(tracking_uri)
    report = ImportReport()
    tick = progress or (lambda phase, done, total: None)
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL)
            if not only or e.name in only]
    missing = set(only or []) - {e.name for e in exps}
    if missing:
        raise InvalidInputError(f"no experiment {sorted(missing)[0]!r} in {tracking_uri}")
    present = set(lg.store.run_ids(lg.store.root(lg.store.head())))
    plan: list[tuple[Any, str]] = []
    for exp in exps:
        name = names.DEFAULT_EXPERIMENT if exp.experiment_id == "0" else exp.name
        _import_experiment(lg, exp, name)
        report.experiments += 1
        for run in _all_runs(client, exp.experiment_id):
            if run.info.run_id in present:
                report.runs_present += 1
            elif names.RUN_ID_RE.match(run.info.run_id) is None:
                report.skipped.append(f"run {run.info.run_id}: not a 32-hex run id")
            else:
                plan.append((run, name))
    models = _logged_models(client, [e.experiment_id for e in exps])
    metrics = _metric_reader(client)
    done = 0
    for start in range(0, len(plan), BATCH):
        chunk = plan[start:start + BATCH]
        histories = metrics([r.info.run_id for r, _ in chunk],
                            {r.info.run_id: list(r.data.metrics) for r, _ in chunk})
        updates = [_update(lg, client, run, exp_name, histories.get(run.info.run_id, []),
                           models.get(run.info.run_id, []))
                   for run, exp_name in chunk]
        lg.store.commit(updates)
        done += len(chunk)
        report.runs_added += len(chunk)
        tick("runs", done, len(plan))
    _import_registry(lg, client, report, tick, models)
    return report


def _import_experiment(lg: Ledger, exp: Any, name: str) -> None:
    tags = {k: v for k, v in exp.tags.items() if not k.startswith("mlflow.")}
    if experiments.get_by_name(lg, name) is None and name != names.DEFAULT_EXPERIMENT:
        experiments.create(lg, name, tags)
    else:
        for key, value in tags.items():
            experiments.set_tag(lg, mlflow_tags.experiment_id(name), key, value)
    if exp.lifecycle_stage == "deleted":
        experiments.set_deleted(lg, mlflow_tags.experiment_id(name), True)


def _all_runs(client: Any, experiment_id: str) -> Iterator[Any]:
    from mlflow.entities import ViewType

    token = None
    while True:
        page = client.search_runs([experiment_id], run_view_type=ViewType.ALL,
                                  max_results=10000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _metric_reader(client: Any) -> Callable[[list[str], dict[str, list[str]]],
                                           dict[str, list[Point]]]:
    """Full metric histories of a batch of runs: one query on an SQL store, else one
    `get_metric_history` per run and key."""
    store = client._tracking_client.store
    if hasattr(store, "ManagedSessionMaker"):
        from mlflow.store.tracking.dbmodels.models import SqlMetric

        def from_sql(ids: list[str], keys: dict[str, list[str]]) -> dict[str, list[Point]]:
            out: dict[str, list[Point]] = {}
            with store.ManagedSessionMaker() as session:
                rows = session.query(SqlMetric.run_uuid, SqlMetric.key, SqlMetric.step,
                                     SqlMetric.timestamp, SqlMetric.value, SqlMetric.is_nan
                                     ).filter(SqlMetric.run_uuid.in_(ids)).all()
            for rid, key, step, ts, value, is_nan in rows:
                out.setdefault(rid, []).append(
                    (key, int(step), int(ts), float("nan") if is_nan else float(value)))
            return out

        return from_sql

    def from_client(ids: list[str], keys: dict[str, list[str]]) -> dict[str, list[Point]]:
        return {rid: [(m.key, int(m.step), int(m.timestamp), float(m.value))
                      for key in keys[rid] for m in client.get_metric_history(rid, key)]
                for rid in ids}

    return from_client


def _logged_models(client: Any, experiment_ids: list[str]) -> dict[str, list[Any]]:
    """MLflow 3's logged models by source run."""
    out: dict[str, list[Any]] = {}
    try:
        token = None
        while True:
            page = client.search_logged_models(experiment_ids=experiment_ids,
                                               page_token=token)
            for model in page:
                if model.source_run_id:
                    out.setdefault(model.source_run_id, []).append(model)
            token = page.token
            if not token:
                return out
    except Exception:
        return out  # a store without logged models (MLflow 2)


def _record(run: Any, exp_name: str) -> RunRecord:
    info, data = run.info, run.data
    plain, fields = mlflow_tags.split_system_tags(dict(data.tags))
    source: dict[str, Any] = {"argv": [], **fields.get("source", {})}
    commit = str(fields.get("commit") or "")
    if names.is_commit(commit):
        source["commit"] = commit
    start = int(info.start_time or 0)
    record = RunRecord(id=info.run_id, experiment=exp_name,
                       name=names.check_run_name(info.run_name or fields.get("name") or ""),
                       status=info.status, start_time=start, user=info.user_id or
                       fields.get("user", ""),
                       params={names.check_key(k, "param key"): names.param_value(v)
                               for k, v in data.params.items()},
                       source=source)
    for key, value in plain.items():
        record.set_tag(names.check_key(key, "tag key"), names.tag_value(value), (start, 0))
    if info.status != "RUNNING":
        record.finish(info.status, int(info.end_time or start), (start, 1))
    if info.lifecycle_stage == "deleted":
        record.set_deleted(True, (start, 2))
    for ds in getattr(run.inputs, "dataset_inputs", None) or []:
        record.add_input(datasets.mlflow_entry(ds))
    return record


def _update(lg: Ledger, client: Any, run: Any, exp_name: str, points: list[Point],
            models: list[Any]) -> Update:
    record = _record(run, exp_name)
    artifacts = _artifacts(lg, client, run.info.artifact_uri, models)
    if models:
        meta = {m.model_id if m.model_id.startswith("m-") else f"m-{m.model_id}": {
            "name": m.name, "path": m.name, "created": m.creation_timestamp,
            "updated": m.last_updated_timestamp, "model_type": m.model_type,
            "status": str(m.status), "tags": dict(m.tags)} for m in models}
        record.set_tag("ledger.logged_models", json.dumps(meta, sort_keys=True,
                                                          separators=(",", ":")),
                       (record.start_time, 0))

    def change(current: RunRecord | None) -> RunRecord:
        return current if current is not None else record

    return Update(record.id, change, points=canonical_points(points), compact=True,
                  artifacts=artifacts, event="imported")


def _artifacts(lg: Ledger, client: Any, artifact_uri: str | None, models: list[Any]
               ) -> dict[str, tuple[bytes, int]]:
    """The run's artifact files (and its logged models' files under their names) as blobs."""
    from mlflow.artifacts import download_artifacts
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    files: dict[str, tuple[bytes, int]] = {}
    sources: list[tuple[Any, str]] = []
    if artifact_uri and _may_have_files(artifact_uri):
        repo = get_artifact_repository(artifact_uri)
        if repo.list_artifacts():
            sources.append((repo, ""))
    sources += [(m.artifact_location, m.name) for m in models]
    for source, prefix in sources:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                if isinstance(source, str):
                    local = Path(download_artifacts(artifact_uri=source, dst_path=tmp,
                                                    tracking_uri=client.tracking_uri))
                else:
                    local = Path(source.download_artifacts("", tmp))
            except Exception:
                continue
            paths = sorted(p for p in local.rglob("*") if p.is_file())
            stored = lg._store_files(paths)
            for path, got in zip(paths, stored):
                rel = path.relative_to(local).as_posix()
                files[names.check_artifact_path(f"{prefix}/{rel}" if prefix else rel)] = got
    return files


def _may_have_files(artifact_uri: str) -> bool:
    """A local artifact folder that is missing or empty has nothing to list (most runs)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(artifact_uri)
    if parsed.scheme not in ("", "file"):
        return True
    folder = Path(unquote(parsed.path))
    return folder.is_dir() and any(folder.iterdir())


def _import_registry(lg: Ledger, client: Any, report: ImportReport, tick: Progress,
                     models: dict[str, list[Any]]) -> None:
    try:
        registered = list(client.search_registered_models())
    except Exception:
        return
    by_id = {m.model_id: m for ms in models.values() for m in ms}
    for i, rm in enumerate(registered):
        if not is_valid_name(rm.name):
            report.skipped.append(f"model {rm.name!r}: not a valid GTO model name "
                                  "(lower case letters, digits, - and _)")
            continue
        versions = sorted(client.search_model_versions(f"name = '{rm.name}'"),
                          key=lambda v: int(v.version))
        for mv in versions:
            _import_version(lg, rm.name, mv, by_id, report)
        for alias, number in (rm.aliases or {}).items():
            _import_stage(lg, rm.name, f"v0.0.{number}", alias.lower(), report)
        for mv in versions:
            if mv.current_stage and mv.current_stage not in ("None", "Archived"):
                _import_stage(lg, rm.name, f"v0.0.{mv.version}", mv.current_stage.lower(),
                              report)
        tick("models", i + 1, len(registered))


def _import_version(lg: Ledger, name: str, mv: Any, by_id: dict[str, Any],
                    report: ImportReport) -> None:
    version = f"v0.0.{mv.version}"
    try:
        if registry.show_model(f"{name}@{version}", repo=lg):
            return
    except LedgerError:
        pass
    path = None
    model = by_id.get(getattr(mv, "model_id", None) or "")
    if model is not None:
        path = model.name
    elif mv.source and mv.source.startswith("runs:/"):
        path = mv.source[len("runs:/"):].partition("/")[2] or None
    elif mv.source and "/artifacts/" in mv.source:
        path = mv.source.split("/artifacts/", 1)[1] or None
    if not mv.run_id:
        report.skipped.append(f"model {name} version {mv.version}: no source run")
        return
    try:
        registry.register_model(name, mv.run_id, path=path, version=version,
                                allow_unfinished=True, repo=lg)
        report.versions_added += 1
    except LedgerError as exc:
        report.skipped.append(f"model {name} version {mv.version}: {exc}")


def _import_stage(lg: Ledger, name: str, version: str, stage: str,
                  report: ImportReport) -> None:
    if not is_valid_name(stage):
        report.skipped.append(f"model {name} alias {stage!r}: not a valid GTO stage name")
        return
    try:
        current = {s for row in registry.show_model(f"{name}@{version}", repo=lg)
                   for s in row.stages}
        if stage in current:
            return
        registry.promote_model(name, version, stage, repo=lg)
        report.aliases_added += 1
    except LedgerError as exc:
        report.skipped.append(f"model {name} {version} stage {stage}: {exc}")
