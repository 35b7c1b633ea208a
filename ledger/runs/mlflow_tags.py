"""MLflow's system tags (`mlflow.runName`, `mlflow.user`, …), derived from a run's record.

They are never stored twice: the record holds the name, the user, the source and the parent;
MLflow code reads them as tags (`run.data.tags`), filters on them (`tags.mlflow.user = 'x'`),
and gives them when it creates a run (`split_system_tags` turns them back into record fields).
"""

from __future__ import annotations

from typing import Any

PARENT_TAG = "ledger.parent_run_id"
RUN_NAME = "mlflow.runName"
USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
PARENT = "mlflow.parentRunId"
NOTE = "mlflow.note.content"

# system tag -> the run-table column that answers it in a filter
FILTER_COLUMNS = {RUN_NAME: "name", USER: "user", GIT_COMMIT: "source.commit",
                  PARENT: f"tags.{PARENT_TAG}"}
# the ones a record keeps in `source` when MLflow gives them
_SOURCE_FIELDS = {SOURCE_NAME: "name", SOURCE_TYPE: "type"}


def system_tags(name: str, user: str, source: dict[str, Any], tags: dict[str, str]
                ) -> dict[str, str]:
    """The system tags MLflow would show for a run with this record (stored tags win)."""
    out = {RUN_NAME: name, USER: user}
    argv = source.get("argv") or []
    src_name = source.get("name") or (argv[0] if argv else "")
    if src_name:
        out[SOURCE_NAME] = src_name
    out[SOURCE_TYPE] = source.get("type") or "LOCAL"
    if source.get("commit"):
        out[GIT_COMMIT] = source["commit"]
    if PARENT_TAG in tags:
        out[PARENT] = tags[PARENT_TAG]
    return {k: v for k, v in out.items() if v}


def split_system_tags(tags: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """MLflow's tags for a new run as (plain tags, record fields): `name`, `user`, `source`
    (name, type) and the parent tag; the rest stay tags."""
    plain = dict(tags)
    fields: dict[str, Any] = {}
    if RUN_NAME in plain:
        fields["name"] = plain.pop(RUN_NAME)
    if USER in plain:
        fields["user"] = plain.pop(USER)
    if PARENT in plain:
        plain[PARENT_TAG] = plain.pop(PARENT)
    source = {field: plain.pop(key) for key, field in _SOURCE_FIELDS.items() if key in plain}
    if source:
        fields["source"] = source
    commit = plain.get(GIT_COMMIT)
    if commit is not None:
        fields["commit"] = plain.pop(GIT_COMMIT)
    return plain, fields


DEFAULT_EXPERIMENT_ID = "0"


def experiment_id(name: str) -> str:
    """MLflow's id of an experiment: its name, except "0" for the default experiment."""
    from ledger.names import DEFAULT_EXPERIMENT

    return DEFAULT_EXPERIMENT_ID if name == DEFAULT_EXPERIMENT else name


def experiment_name(exp_id: str | int) -> str:
    """The experiment an MLflow experiment id names (the inverse of `experiment_id`)."""
    from ledger.names import DEFAULT_EXPERIMENT

    text = str(exp_id)
    return DEFAULT_EXPERIMENT if text == DEFAULT_EXPERIMENT_ID else text
