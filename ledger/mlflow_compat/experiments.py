"""Experiments as MLflow sees them: ids, tags, creation and deletion.

An experiment's id is its name ("0" for the default experiment, as in MLflow), so every clone
agrees on it without coordination. An experiment exists when a run names it, or when it was
created (`create_experiment`, `set_experiment`) or tagged: those facts live in one small JSON
document on `refs/ledger/experiments`, moved by compare-and-swap like the runs ref.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger import names
from ledger.errors import InvalidInputError, LedgerError
from ledger.runs.mlflow_tags import experiment_id, experiment_name
from ledger.runs.record import now_ms
from ledger.store import trees
from ledger.store.objects import FILE_MODE, blob

if TYPE_CHECKING:
    from ledger.api import Ledger

EXPERIMENTS_REF = b"refs/ledger/experiments"
DOC = "experiments.json"


class ExperimentNotFoundError(LedgerError, KeyError):
    """No experiment has this id or name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "experiment not found"


@dataclass
class Experiment:
    """MLflow's Experiment: `experiment_id`, `name`, `tags`, `lifecycle_stage`, …"""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


def _read(lg: Ledger) -> dict[str, dict[str, Any]]:
    head = lg.store.refs.get(EXPERIMENTS_REF)
    if head is None:
        return {}
    entry = lg.store.objects.lookup(lg.store.objects.commit(head).tree, DOC)
    return json.loads(lg.store.objects.blob_bytes(entry[1])) if entry else {}


def _change(lg: Ledger, edit: Any) -> None:
    """Apply `edit(doc)` to the experiments document by compare-and-swap."""
    from dulwich.objects import Commit, ObjectID

    from ledger.store.identity import identity

    def build(old: bytes | None) -> bytes | None:
        doc: dict[str, Any] = {}
        if old is not None:
            entry = lg.store.objects.lookup(lg.store.objects.commit(old).tree, DOC)
            doc = json.loads(lg.store.objects.blob_bytes(entry[1])) if entry else {}
        before = json.dumps(doc, sort_keys=True)
        edit(doc)
        if json.dumps(doc, sort_keys=True) == before:
            return None
        out: list[Any] = []
        data = blob((json.dumps(doc, sort_keys=True, indent=1) + "\n").encode())
        out.append(data)
        tree = trees.build({DOC: (FILE_MODE, data.id)}, out)
        commit = Commit()
        commit.tree = ObjectID(tree)
        commit.parents = [ObjectID(old)] if old else []
        commit.author = commit.committer = identity(lg.gitdir)
        commit.author_time = commit.commit_time = now_ms() // 1000
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = b"experiments updated\n"
        out.append(commit)
        lg.store.objects.add(out)
        return commit.id

    lg.store.refs.update(EXPERIMENTS_REF, build)


def _with_runs(lg: Ledger) -> dict[str, dict[str, Any]]:
    """Every experiment: the recorded ones, and the ones runs name."""
    found = _read(lg)
    for entry in lg.experiments():
        rec = found.setdefault(entry["name"], {})
        rec.setdefault("created", entry["last_start_time"])
        rec["updated"] = max(rec.get("updated", 0), entry["last_start_time"])
    found.setdefault(names.DEFAULT_EXPERIMENT, {"created": 0})
    return found


def _entity(lg: Ledger, name: str, rec: dict[str, Any]) -> Experiment:
    root = lg.path.resolve().as_posix()
    return Experiment(experiment_id(name), name, f"ledger://{root}/experiments/{name}",
                      "deleted" if rec.get("deleted") else "active", dict(rec.get("tags", {})),
                      rec.get("created"), rec.get("updated", rec.get("created")))


def list_experiments(lg: Ledger, view: str = "active") -> list[Experiment]:
    """Experiments, "active", "deleted" or "all", by name."""
    out = [_entity(lg, n, r) for n, r in sorted(_with_runs(lg).items())]
    if view == "all":
        return out
    return [e for e in out if e.lifecycle_stage == view]


_ORDER_KEYS = {"name": lambda e: e.name, "experiment_id": lambda e: e.experiment_id,
               "creation_time": lambda e: e.creation_time or 0,
               "last_update_time": lambda e: e.last_update_time or 0}


def sort_experiments(found: list[Experiment], order_by: list[str] | None) -> list[Experiment]:
    """MLflow's order for search_experiments: the `order_by` keys (`name`, `experiment_id`,
    `creation_time`, `last_update_time`, each `ASC` or `DESC`, with an optional `attribute.`
    prefix), then the newest first."""
    out = sorted(found, key=lambda e: e.name)
    out.sort(key=lambda e: e.creation_time or 0, reverse=True)
    for clause in reversed(order_by or []):
        words = clause.split()
        key = words[0].split(".", 1)[-1].strip("`") if words else ""
        if key not in _ORDER_KEYS or len(words) > 2 or (
                len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise InvalidInputError(f"invalid order_by clause {clause!r}: use name, "
                                    "experiment_id, creation_time or last_update_time, "
                                    "then ASC or DESC")
        out.sort(key=_ORDER_KEYS[key], reverse=len(words) == 2 and words[1].upper() == "DESC")
    return out


def get_by_name(lg: Ledger, name: str) -> Experiment | None:
    rec = _with_runs(lg).get(name)
    return None if rec is None else _entity(lg, name, rec)


def get(lg: Ledger, exp_id: str | int) -> Experiment:
    name = experiment_name(exp_id)
    found = get_by_name(lg, name)
    if found is None:
        raise ExperimentNotFoundError(f"no experiment with id {str(exp_id)!r}")
    return found


def for_new_run(lg: Ledger, exp_id: str | int) -> Experiment:
    """The experiment a new run goes into: from the experiments document alone when it records
    the experiment (creating a run need not read the run table), else as `get`."""
    name = experiment_name(exp_id)
    rec = _read(lg).get(name)
    if rec is None and name == names.DEFAULT_EXPERIMENT:
        rec = {"created": 0}
    return get(lg, exp_id) if rec is None else _entity(lg, name, rec)


def create(lg: Ledger, name: str, tags: dict[str, Any] | None = None) -> str:
    """Record a new experiment; its id. An existing name is an error, as in MLflow."""
    name = names.check_experiment(name)
    if name == "0":
        raise InvalidInputError('"0" is the id of the default experiment; choose another name')
    checked = {names.check_key(k, "tag key"): names.tag_value(v)
               for k, v in (tags or {}).items()}
    if get_by_name(lg, name) is not None:
        raise InvalidInputError(f"experiment {name!r} already exists")

    def edit(doc: dict[str, Any]) -> None:
        doc.setdefault(name, {"created": now_ms(), "tags": {}})["tags"].update(checked)

    _change(lg, edit)
    return experiment_id(name)


def record(lg: Ledger, name: str, tags: dict[str, Any] | None = None,
           deleted: bool = False) -> None:
    """Have the experiment recorded, with these tags (deleted, if so), whether or not it
    exists: one compare-and-swap, none when nothing changes (`ledger import`; no run table
    is read to find out whether it exists)."""
    name = names.check_experiment(name)
    checked = {names.check_key(k, "tag key"): names.tag_value(v)
               for k, v in (tags or {}).items()}
    if name == names.DEFAULT_EXPERIMENT:
        if deleted:
            raise InvalidInputError("the default experiment cannot be deleted")
        if not checked:
            return  # it always exists

    def edit(doc: dict[str, Any]) -> None:
        rec = doc.setdefault(name, {"created": now_ms(), "tags": {}})
        rec.setdefault("tags", {}).update(checked)
        if deleted:
            rec["deleted"] = True

    _change(lg, edit)


def ensure(lg: Ledger, name: str) -> Experiment:
    """The experiment of this name, created when missing (MLflow's `set_experiment`)."""
    found = get_by_name(lg, name)
    if found is None:
        create(lg, name)
        found = get_by_name(lg, name)
        assert found is not None
    if found.lifecycle_stage == "deleted":
        raise InvalidInputError(
            f"experiment {name!r} is deleted; restore it (restore_experiment) to use it")
    return found


def _edit_one(lg: Ledger, exp_id: str | int, fn: Any) -> None:
    name = get(lg, exp_id).name

    def edit(doc: dict[str, Any]) -> None:
        rec = doc.setdefault(name, {"created": now_ms(), "tags": {}})
        rec.setdefault("tags", {})
        fn(rec)
        rec["updated"] = now_ms()

    _change(lg, edit)


def set_tag(lg: Ledger, exp_id: str | int, key: str, value: Any) -> None:
    key, text = names.check_key(key, "tag key"), names.tag_value(value)
    _edit_one(lg, exp_id, lambda rec: rec["tags"].__setitem__(key, text))


def delete_tag(lg: Ledger, exp_id: str | int, key: str) -> None:
    _edit_one(lg, exp_id, lambda rec: rec["tags"].pop(key, None))


def set_deleted(lg: Ledger, exp_id: str | int, deleted: bool) -> None:
    if experiment_name(exp_id) == names.DEFAULT_EXPERIMENT and deleted:
        raise InvalidInputError("the default experiment cannot be deleted")
    _edit_one(lg, exp_id, lambda rec: rec.__setitem__("deleted", deleted))
