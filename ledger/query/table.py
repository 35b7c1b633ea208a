"""The run table: one row per run (info, params.*, latest metrics.*, tags.*) as Arrow."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from ledger.runs.record import RunRecord

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
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
