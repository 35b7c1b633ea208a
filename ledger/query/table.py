"""The run table: one row per run (info, params.*, latest metrics.*, tags.*) as Arrow.

The run's inputs, as MLflow's dataset filters see them, are three more columns,
`datasets.name`, `datasets.digest` and `datasets.context`: each a string holding every value
as `ITEM_START value ITEM_END` (null when the run has none), so that "some input matches" is
a substring or regex test an Arrow expression can make (ledger/query/filter_arrow.py). They
are for filtering only; searches leave them out of their results.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from ledger.runs.datasets import dataset_digest, dataset_name
from ledger.runs.record import RunRecord

ITEM_START, ITEM_END = "\x1e", "\x1f"  # ASCII record and unit separators
DATASET_COLUMNS = ("datasets.name", "datasets.digest", "datasets.context")

INFO_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("run_id", pa.string()),
    ("experiment", pa.string()),
    ("name", pa.string()),
    ("status", pa.string()),
    ("start_time", pa.int64()),
    ("end_time", pa.int64()),
    ("user", pa.string()),
    ("source.commit", pa.string()),
    ("deleted", pa.bool_()),
]


def build(records: Iterable[RunRecord]) -> pa.Table:
    """A table of runs; a key a run lacks is null in its row."""
    rows = list(records)
    columns: dict[str, list[object]] = {
        "run_id": [r.id for r in rows],
        "experiment": [r.experiment for r in rows],
        "name": [r.name for r in rows],
        "status": [r.status for r in rows],
        "start_time": [r.start_time for r in rows],
        "end_time": [r.end_time for r in rows],
        "user": [r.user for r in rows],
        "source.commit": [r.source.get("commit") for r in rows],
        "deleted": [r.deleted for r in rows],
    }
    arrays = [pa.array(columns[name], type) for name, type in INFO_COLUMNS]
    fields = [pa.field(name, type) for name, type in INFO_COLUMNS]
    for prefix, attr, type in (("params", "params", pa.string()),
                               ("metrics", "metrics", pa.float64()),
                               ("tags", "tags", pa.string())):
        keys = sorted({k for r in rows for k in getattr(r, attr)})
        for key in keys:
            fields.append(pa.field(f"{prefix}.{key}", type))
            arrays.append(pa.array([getattr(r, attr).get(key) for r in rows], type))
    for name, values in zip(DATASET_COLUMNS, _dataset_values(rows)):
        if any(values):
            fields.append(pa.field(name, pa.string()))
            arrays.append(pa.array([item_list(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _dataset_values(rows: list[RunRecord]) -> tuple[list[list[str]], ...]:
    names = [[dataset_name(e) for e in r.inputs] for r in rows]
    digests = [[dataset_digest(e) for e in r.inputs] for r in rows]
    contexts = [[str(e["context"]) for e in r.inputs if e.get("context")] for r in rows]
    return names, digests, contexts


def item_list(values: list[str]) -> str | None:
    """Values as one string of delimited items (the separators never occur inside a value:
    they are replaced by spaces); None for no values."""
    if not values:
        return None
    clean = (v.replace(ITEM_START, " ").replace(ITEM_END, " ") for v in values)
    return "".join(f"{ITEM_START}{v}{ITEM_END}" for v in clean)
