"""MLflow's `search_runs` over the run table: experiment ids, view types, and rows shaped like
MLflow's runs (system tags included), read from the Parquet snapshot, not from run folders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledger.runs import mlflow_tags

if TYPE_CHECKING:
    import pyarrow as pa

    from ledger.api import Ledger

ACTIVE_ONLY, DELETED_ONLY, ALL = 1, 2, 3
_VIEWS = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}


def view_type(view: Any) -> int:
    """MLflow's ViewType (1, 2, 3, or its name) as an int."""
    if isinstance(view, str):
        return _VIEWS.get(view.upper(), ACTIVE_ONLY)
    return int(view) if view else ACTIVE_ONLY


def _quote(text: str) -> str:
    """A string literal for `text` (MLflow's literals have no escapes: pick the quote)."""
    from ledger.errors import InvalidInputError

    for quote in ("'", '"'):
        if quote not in text:
            return quote + text + quote
    raise InvalidInputError(f"experiment name {text!r} has both kinds of quotes; "
                            "search it by another name")


def where_for(experiment_ids: Sequence[str | int] | str | int | None,
              filter_string: str | None) -> str | None:
    """A ledger filter: MLflow's filter within the experiments named by id."""
    parts = []
    if experiment_ids is not None and not isinstance(experiment_ids, (list, tuple, set)):
        experiment_ids = [experiment_ids]  # type: ignore[list-item]
    if experiment_ids:
        names = ", ".join(_quote(mlflow_tags.experiment_name(e)) for e in experiment_ids)
        parts.append(f"experiment IN ({names})")
    if filter_string and filter_string.strip():
        parts.append(f"({filter_string})")
    return " AND ".join(parts) or None


def table(lg: Ledger, experiment_ids: Any, filter_string: str | None, view: Any = ACTIVE_ONLY,
          max_results: int | None = None, order_by: Sequence[str] | None = None,
          offset: int = 0) -> pa.Table:
    """The matching rows of the run table (with a `deleted` column)."""
    from ledger.query import search

    kind = view_type(view)
    wanted = None if max_results is None else offset + max_results
    where = where_for(experiment_ids, filter_string)
    if kind == ACTIVE_ONLY:
        found = search.search(lg, where, None, order_by, wanted, False)
    else:
        found = search.search(lg, where, None, order_by, None, True)
        if kind == DELETED_ONLY:
            found = found.filter(found["deleted"])
        found = found if wanted is None else found.slice(0, wanted)
    return found.slice(offset)


def rows(lg: Ledger, data: pa.Table) -> list[dict[str, Any]]:
    """Runs as dicts: info fields, then `params`, `metrics`, `tags` (system tags included)."""
    cols = {name: data[name].to_pylist() for name in data.column_names}
    root = f"ledger://{lg.path.resolve().as_posix()}/runs/"
    groups = {p: [(n[len(p):], cols[n]) for n in cols if n.startswith(p)]
              for p in ("params.", "metrics.", "tags.")}
    out = []
    commits = cols.get("source.commit") or [None] * data.num_rows
    deleted = cols.get("deleted") or [False] * data.num_rows
    for i, rid in enumerate(cols["run_id"]):
        tags = {k: v[i] for k, v in groups["tags."] if v[i] is not None}
        source = {"commit": commits[i]} if commits[i] else {}
        system = mlflow_tags.system_tags(cols["name"][i], cols["user"][i], source, tags)
        out.append({
            "run_id": rid,
            "experiment_id": mlflow_tags.experiment_id(cols["experiment"][i]),
            "run_name": cols["name"][i],
            "status": cols["status"][i],
            "start_time": cols["start_time"][i],
            "end_time": cols["end_time"][i],
            "user_id": cols["user"][i],
            "lifecycle_stage": "deleted" if deleted[i] else "active",
            "artifact_uri": f"{root}{rid}/artifacts",
            "params": {k: v[i] for k, v in groups["params."] if v[i] is not None},
            "metrics": {k: v[i] for k, v in groups["metrics."] if v[i] is not None},
            "tags": {**system, **tags},
        })
    return out


def to_pandas(found: list[dict[str, Any]]) -> Any:
    """MLflow's DataFrame: run_id, experiment_id, status, artifact_uri, start_time, end_time
    (UTC datetimes), then metrics.*, params.*, tags.*."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {k: [r[k] for r in found] for k in
                            ("run_id", "experiment_id", "status", "artifact_uri")}
    for k in ("start_time", "end_time"):
        data[k] = [pd.to_datetime(r[k], unit="ms", utc=True) for r in found]
    for kind, null in (("metrics", np.nan), ("params", None), ("tags", None)):
        keys = sorted({k for r in found for k in r[kind]})
        for key in keys:
            data[f"{kind}.{key}"] = [r[kind].get(key, null) for r in found]
    return pd.DataFrame(data)
