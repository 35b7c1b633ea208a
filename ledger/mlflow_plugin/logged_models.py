"""MLflow 3's logged models, kept in the run that produced them.

A logged model's files are artifacts of its source run under the model's name (so
`runs:/<run>/<name>` and `models:/m-…` read the same git blobs); its metadata (name, status,
type, tags) is one JSON tag `ledger.logged_models` on that run, keyed by model id. The id embeds
the run id (`m-<run id><8 hex>`), so a model is found without a search. A model logged outside
a run gets a run of its own, named after it.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from mlflow.entities import LoggedModel, LoggedModelStatus

from ledger.errors import InvalidInputError
from ledger.mlflow_compat import experiments
from ledger.mlflow_compat import search as search_module
from ledger.mlflow_plugin import common
from ledger.runs import mlflow_tags
from ledger.runs.record import now_ms

if TYPE_CHECKING:
    from ledger.mlflow_plugin.tracking_store import LedgerTrackingStore

TAG = "ledger.logged_models"
_ID = re.compile(r"^m-([0-9a-f]{32})[0-9a-f]{8}$")


def _run_of(store: LedgerTrackingStore, model_id: str) -> str:
    m = _ID.match(model_id)
    if m is not None:
        return m.group(1)
    if re.fullmatch(r"m-[0-9a-f]{32}", model_id):  # imported from MLflow: find its run
        found = search_module.table(store.ledger, None, f"tags.`{TAG}` LIKE '%{model_id}%'")
        if found.num_rows:
            return str(found["run_id"][0].as_py())
    raise common.not_found(f"no logged model {model_id!r}")


def _models(store: LedgerTrackingStore, run_id: str) -> dict[str, dict[str, Any]]:
    text = store.ledger.get_run(run_id).tags.get(TAG)
    return json.loads(text) if text else {}


def _write(store: LedgerTrackingStore, run_id: str, models: dict[str, dict[str, Any]]) -> None:
    value = {TAG: json.dumps(models, sort_keys=True, separators=(",", ":"))}
    active = common.live(run_id)
    if active is not None:
        active.set_tags(value)
    else:
        store.ledger.set_run_tags(run_id, value)


def _entity(store: LedgerTrackingStore, run_id: str, model_id: str, meta: dict[str, Any]
            ) -> LoggedModel:
    run = store.ledger.get_run(run_id)
    return LoggedModel(
        mlflow_tags.experiment_id(run.info.experiment), model_id, meta["name"],
        f"{store.ledger.artifact_uri(run_id)}/{meta['path']}", meta["created"],
        meta.get("updated", meta["created"]), meta.get("model_type"), run_id,
        LoggedModelStatus(meta.get("status", "READY")), None, meta.get("tags", {}),
        dict(run.params))


def create(store: LedgerTrackingStore, experiment_id: str, name: str | None,
           source_run_id: str | None, tags: dict[str, str], model_type: str | None
           ) -> LoggedModel:
    name = name or "model"
    if source_run_id is None:
        exp = experiments.get(store.ledger, experiment_id)
        source_run_id = store.ledger.log_run(exp.name, name, status="FINISHED")
    run_id = store.ledger.resolve(source_run_id)
    models = _models(store, run_id)
    model_id = f"m-{run_id}{os.urandom(4).hex()}"
    taken = {m["path"] for m in models.values()}
    path = name if name not in taken else f"{name}-{model_id}"
    now = now_ms()
    models[model_id] = {"name": name, "path": path, "created": now, "updated": now,
                        "model_type": model_type, "status": "PENDING", "tags": tags}
    _write(store, run_id, models)
    return _entity(store, run_id, model_id, models[model_id])


def get(store: LedgerTrackingStore, model_id: str) -> LoggedModel:
    run_id = _run_of(store, model_id)
    meta = _models(store, run_id).get(model_id)
    if meta is None:
        raise common.not_found(f"no logged model {model_id!r}")
    return _entity(store, run_id, model_id, meta)


def update(store: LedgerTrackingStore, model_id: str, status: Any = None,
           tags: dict[str, str] | None = None, drop_tag: str | None = None) -> LoggedModel:
    run_id = _run_of(store, model_id)
    models = _models(store, run_id)
    meta = models.get(model_id)
    if meta is None:
        raise common.not_found(f"no logged model {model_id!r}")
    if status is not None:
        meta["status"] = str(LoggedModelStatus(status) if not isinstance(status, int)
                             else LoggedModelStatus.from_int(status))
    meta.setdefault("tags", {}).update(tags or {})
    if drop_tag is not None:
        meta["tags"].pop(drop_tag, None)
    meta["updated"] = now_ms()
    _write(store, run_id, models)
    return _entity(store, run_id, model_id, meta)


_CLAUSE = re.compile(r"^\s*(?:attributes\.)?(name|source_run_id|model_id)\s*=\s*'([^']*)'\s*$",
                     re.I)


def search(store: LedgerTrackingStore, experiment_ids: list[str], filter_string: str | None
           ) -> list[LoggedModel]:
    """Logged models of these experiments; filters `name = '…'`, `source_run_id = '…'`
    joined by AND."""
    wanted: dict[str, str] = {}
    for clause in re.split(r"\s+AND\s+", filter_string or "", flags=re.I):
        if not clause.strip():
            continue
        m = _CLAUSE.match(clause)
        if m is None:
            raise InvalidInputError(f"unsupported logged model filter {clause!r}")
        wanted[m.group(1).lower()] = m.group(2)
    common.flush_live()
    found = search_module.table(store.ledger, experiment_ids, f"tags.`{TAG}` != ''")
    out = []
    for rid in found["run_id"].to_pylist():
        for model_id, meta in _models(store, rid).items():
            fields = {"name": meta["name"], "source_run_id": rid, "model_id": model_id}
            if all(fields[k] == v for k, v in wanted.items()):
                out.append(_entity(store, rid, model_id, meta))
    return sorted(out, key=lambda m: -m.creation_timestamp)



