"""`ledger import URI`: copy an MLflow store (`./mlruns`, `sqlite:///mlflow.db`,
`http://host:port`, any tracking URI) into the ledger, read through MLflow's own client or, for
a sqlite store, from its tables directly (ledger/mlflow_plugin/import_source.py).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import names
from ledger.api import Ledger
from ledger.errors import InvalidInputError, LedgerError
from ledger.mlflow_compat import experiments
from ledger.mlflow_plugin.import_source import ClientSource, ImportSourceError, open_source
from ledger.registry import api as registry
from ledger.registry.tags import is_valid_name
from ledger.runs import datasets, mlflow_tags
from ledger.runs.record import Point, RunRecord
from ledger.runs.store import Update

__all__ = ["ImportReport", "ImportSourceError", "import_store"]

BATCH = 500
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ImportReport:
    experiments: int = 0
    runs_added: int = 0
    runs_present: int = 0
    versions_added: int = 0
    aliases_added: int = 0
    skipped: list[str] = field(default_factory=list)  # what could not be imported, and why


def import_store(tracking_uri: str, repo: str | os.PathLike[str] | Ledger | None = None,
                 only: list[str] | None = None, progress: Progress | None = None
                 ) -> ImportReport:
    """Copy experiments `only` (names; None: all) of an MLflow store into the ledger."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours shows it
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads ./mlruns so
    lg = repo if isinstance(repo, Ledger) else Ledger(repo)
    source = open_source(tracking_uri)
    report = ImportReport()
    tick = progress or (lambda phase, done, total: None)
    exps = [e for e in source.experiments() if not only or e.name in only]
    missing = set(only or []) - {e.name for e in exps}
    if missing:
        raise InvalidInputError(f"no experiment {sorted(missing)[0]!r} in {tracking_uri}")
    present = set(lg.store.run_ids(lg.store.root(lg.store.head())))
    plan: list[tuple[Any, str]] = []
    for exp in exps:
        name = names.DEFAULT_EXPERIMENT if exp.experiment_id == "0" else exp.name
        _import_experiment(lg, exp, name)
        report.experiments += 1
        for run in source.runs(exp.experiment_id):
            if run.info.run_id in present:
                report.runs_present += 1
            elif names.RUN_ID_RE.match(run.info.run_id) is None:
                report.skipped.append(f"run {run.info.run_id}: not a 32-hex run id")
            else:
                plan.append((run, name))
    models = source.logged_models([e.experiment_id for e in exps]) if plan else {}
    done = 0
    for start in range(0, len(plan), BATCH):
        chunk = plan[start:start + BATCH]
        histories = source.metrics([r for r, _ in chunk])
        updates = [_update(lg, source, run, exp_name, histories.get(run.info.run_id, []),
                           models.get(run.info.run_id, []))
                   for run, exp_name in chunk]
        lg.store.commit(updates)
        done += len(chunk)
        report.runs_added += len(chunk)
        tick("runs", done, len(plan))
    if source.has_registry():
        _import_registry(lg, source.client, report, tick, models)
    return report


def _import_experiment(lg: Ledger, exp: Any, name: str) -> None:
    tags = {k: v for k, v in exp.tags.items() if not k.startswith("mlflow.")}
    deleted = exp.lifecycle_stage == "deleted" and name != names.DEFAULT_EXPERIMENT
    experiments.record(lg, name, tags, deleted)


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


def _update(lg: Ledger, source: ClientSource, run: Any, exp_name: str, points: list[Point],
            models: list[Any]) -> Update:
    record = _record(run, exp_name)
    artifacts = _artifacts(lg, source, run.info.artifact_uri, models)
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

    return Update(record.id, change, points=points, compact=True,
                  artifacts=artifacts, event="imported")


def _artifacts(lg: Ledger, store: ClientSource, artifact_uri: str | None, models: list[Any]
               ) -> dict[str, tuple[bytes, int]]:
    """The run's artifact files (and its logged models' files under their names) as blobs."""
    files: dict[str, tuple[bytes, int]] = {}
    if not models and not (artifact_uri and _may_have_files(artifact_uri)):
        return files  # most runs: nothing to list, and no MLflow to import for it
    from mlflow.artifacts import download_artifacts
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

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
                                                    tracking_uri=store.tracking_uri))
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
