"""search_runs: filter, sort and limit the run table (read from the Parquet snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ledger.errors import InvalidInputError
from ledger.query import filter as filters
from ledger.query.snapshot import Snapshot

if TYPE_CHECKING:
    from ledger.runs.lifecycle import Runs


def snapshot(ledger: Runs) -> Snapshot:
    return Snapshot(ledger.store, ledger.gitdir.ledger_dir / "index")


def search(ledger: Runs, where: str | None, experiment: str | None,
           order_by: Sequence[str] | None, max_results: int | None,
           include_deleted: bool, ids_only: bool = False) -> pa.Table:
    """The matching runs. With `ids_only`, only the columns needed to select and order them
    are read from the snapshot (the caller loads the full records of the few it shows)."""
    if max_results is not None and max_results < 0:
        raise InvalidInputError(f"max_results must be 0 or more, not {max_results}")
    node = filters.parse_filter(where)  # a malformed filter fails before any reading
    keys = filters.parse_order_by(list(order_by or []))
    wanted = {*filters.referenced_columns(node), *(k.column for k in keys)}
    result = snapshot(ledger).table(wanted if ids_only else None)
    if ARTIFACT_URI in wanted:
        result = with_artifact_uri(ledger, result)
    if not include_deleted:
        result = result.filter(pc.invert(result["deleted"]))
    if experiment is not None:
        result = result.filter(pc.equal(result["experiment"], experiment))
    expression = filters.to_expression(node, result.schema) if node is not None else None
    if expression is not None:
        result = result.filter(expression)
    result = filters.sort_table(result, keys)
    if max_results is not None:
        result = result.slice(0, max_results)
    result = drop_empty_columns(result)
    hidden = [c for c in result.column_names if c in HIDDEN or c.startswith("datasets.")]
    return result.drop_columns(hidden + ([] if include_deleted else ["deleted"]))


ARTIFACT_URI = "artifact_uri"
HIDDEN = {ARTIFACT_URI}  # columns made for filters and sorts only


def with_artifact_uri(ledger: Runs, data: pa.Table) -> pa.Table:
    """The table with MLflow's `artifact_uri` of each run (`ledger:///repo/runs/ID/artifacts`),
    for `attributes.artifact_uri` filters and sorts."""
    head, tail = ledger.artifact_uri("\0").split("\0")
    uris = pc.binary_join_element_wise(head, data["run_id"], tail, "")
    return data.append_column(ARTIFACT_URI, uris)


def drop_empty_columns(data: pa.Table) -> pa.Table:
    """Keys no selected run has are left out, as MLflow's search_runs does."""
    empty = [name for name in data.column_names
             if name.startswith(("params.", "metrics.", "tags."))
             and data[name].null_count == data.num_rows]
    return data.drop_columns(empty) if empty else data
