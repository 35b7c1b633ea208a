"""`ledger export DIR`: the run table and the metric histories as plain Parquet datasets,
partitioned by experiment (hive style), for DuckDB, Polars or Spark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as ds

from ledger.errors import InvalidInputError
from ledger.query import history, search

if TYPE_CHECKING:
    from ledger.runs.lifecycle import Runs


def export(ledger: Runs, folder: str | os.PathLike[str], include_deleted: bool = False,
           overwrite: bool = False) -> dict[str, int]:
    """Write `runs/experiment=<e>/…parquet` and `metrics/experiment=<e>/…parquet` below
    `folder`; returns the row counts."""
    out = Path(folder)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InvalidInputError(f"{out} is not empty (use --overwrite to replace it)")
        for sub in ("runs", "metrics"):
            shutil.rmtree(out / sub, ignore_errors=True)
    runs = search.search(ledger, None, None, None, None, include_deleted)
    _write(runs, out / "runs")
    ids = runs["run_id"].to_pylist()
    experiments = dict(zip(ids, runs["experiment"].to_pylist()))
    points = history.history(ledger, ids)
    points = points.append_column(
        "experiment", pa.array([experiments[r] for r in points["run_id"].to_pylist()],
                               pa.string()))
    _write(points, out / "metrics")
    return {"runs": runs.num_rows, "metric_points": points.num_rows}


def _write(data: pa.Table, folder: Path) -> None:
    ds.write_dataset(data, folder, format="parquet",
                     partitioning=ds.partitioning(pa.schema([("experiment", pa.string())]),
                                                  flavor="hive"),
                     existing_data_behavior="overwrite_or_ignore",
                     basename_template="part-{i}.parquet")
