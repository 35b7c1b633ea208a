"""Metric histories of one or many runs as Arrow, read from the runs' Parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ledger.errors import DamagedRunError
from ledger.runs import replay
from ledger.runs.record import canonical_points

if TYPE_CHECKING:
    from ledger.runs.lifecycle import Runs

SCHEMA = pa.schema([("run_id", pa.string()), ("key", pa.string()), ("step", pa.int64()),
                    ("timestamp", pa.int64()), ("value", pa.float64())])


def history(ledger: Runs, run_ids: Sequence[str], keys: Sequence[str] | None = None
            ) -> pa.Table:
    """Points of the given (resolved) runs: run_id, key, step, timestamp, value; ordered by
    run (as given), key, step, timestamp. Only the `key` column is read to select keys."""
    root = ledger.store.root(ledger.store.head())
    parts: list[pa.Table] = []
    wanted = list(keys) if keys else None
    for rid in run_ids:
        tree = ledger.store.folder_tree(root, rid)
        files = ledger.store._metric_files(tree) if tree else []
        run_parts = []
        for _path, _mode, sha in files:
            # an Arrow buffer, not io.BytesIO (a Python file object read from pyarrow's
            # threads could abort the interpreter at exit), and no thread pool for one blob
            blob = pa.py_buffer(ledger.store.objects.blob_bytes(sha))
            try:
                with pq.ParquetFile(pa.BufferReader(blob)) as source:
                    data = source.read(use_threads=False)  # (not pq.read_table: see snapshot)
                data = data.select(["key", "step", "timestamp", "value"]).cast(SCHEMA.remove(0))
            except (pa.ArrowException, KeyError, ValueError) as exc:
                raise DamagedRunError(f"run {rid}: its metric file {_path} cannot be read "
                                      f"({type(exc).__name__})") from None
            if wanted:
                data = data.filter(pc.is_in(data["key"], value_set=pa.array(wanted, pa.string())))
            run_parts.append(data)
        live = [p for rep in replay.live(ledger.journal_dir, rid) for p in rep.points
                if wanted is None or p[0] in wanted]
        if live:
            run_parts.append(pa.table({
                "key": pa.array([p[0] for p in live], pa.string()),
                "step": pa.array([p[1] for p in live], pa.int64()),
                "timestamp": pa.array([p[2] for p in live], pa.int64()),
                "value": pa.array([p[3] for p in live], pa.float64()),
            }))
        if not run_parts:
            continue
        points = pa.concat_tables([t.select(["key", "step", "timestamp", "value"])
                                   for t in run_parts])
        if len(run_parts) > 1:  # chunks and live points may overlap: keep the set
            points = _distinct(points)
        points = points.sort_by([("key", "ascending"), ("step", "ascending"),
                                 ("timestamp", "ascending"), ("value", "ascending")])
        ids = pa.array([rid] * points.num_rows, pa.string())
        parts.append(points.add_column(0, "run_id", ids))
    if not parts:
        return SCHEMA.empty_table()
    return pa.concat_tables(parts).cast(SCHEMA)


def _distinct(points: pa.Table) -> pa.Table:
    """The set of points (rare: only a live run has chunks and journal points that overlap)."""
    rows = canonical_points(zip(*(points[c].to_pylist()
                                  for c in ("key", "step", "timestamp", "value"))))
    return pa.table({"key": pa.array([p[0] for p in rows], pa.string()),
                     "step": pa.array([p[1] for p in rows], pa.int64()),
                     "timestamp": pa.array([p[2] for p in rows], pa.int64()),
                     "value": pa.array([p[3] for p in rows], pa.float64())})
