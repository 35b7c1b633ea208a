"""The UI's reads and writes, through the library only: the Parquet snapshot for tables,
metric histories for charts, the registry API, `git log` for the audit log.

Every call leaves the event loop: `Service.call` runs library functions in the thread pool,
one at a time on the shared `Ledger` handle (its object store is not made for concurrent
readers); git subprocesses (`Service.git`) run in the pool without that lock.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool

from ledger.errors import FilterSyntaxError

if TYPE_CHECKING:
    from ledger.api import Ledger

T = TypeVar("T")
ATTRIBUTES = ("run_id", "experiment", "name", "status", "start_time", "end_time", "user",
              "source.commit")
DEFAULT_ATTRIBUTES = ("name", "status", "start_time", "user")
MAX_PAGE = 500
X_AXES = ("step", "time", "relative")
CHART_BUDGET = 40_000  # points sent for one chart, shared by its runs


def jsonable(value: Any) -> Any:
    """NaN and ±inf as the strings of SPEC §3 (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def sort_clause(column: str, descending: bool) -> str:
    """A sort key of the filter language for a column of the run table."""
    if column in ATTRIBUTES:
        key = column
    else:
        kind, _, name = column.partition(".")
        if kind not in ("params", "metrics", "tags") or not name:
            raise FilterSyntaxError(f"cannot sort by {column!r}: not a column of the run table")
        key = f"{kind}.`{name}`"
    return f"{key} {'DESC' if descending else 'ASC'}"


@dataclass(frozen=True)
class RunsQuery:
    experiment: str | None = None
    where: str | None = None
    sort: str = "start_time"
    descending: bool = True
    offset: int = 0
    limit: int = 100
    deleted: bool = False
    columns: tuple[str, ...] = ()


class Service:
    def __init__(self, ledger: Ledger, read_only: bool = False) -> None:
        self.ledger = ledger
        self.read_only = read_only
        self._lock = threading.Lock()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args, **kwargs)

        return await run_in_threadpool(locked)

    async def git(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    def warm(self) -> None:
        """Import what queries and charts need and read the run table once."""
        import ledger.serve.ui.downsample  # noqa: F401  (numpy, for the first chart)

        # a failure here shows again, worded, on the first request that needs the table
        with self._lock, contextlib.suppress(Exception):
            self.ledger.search_runs(max_results=1, order_by=["start_time DESC"])

    # -- the runs table ---------------------------------------------------------------------
    def runs_page(self, q: RunsQuery) -> dict[str, Any]:
        """One page of the run table, with the columns the user chose (default: the run's
        name, status, start, user, every metric and the first params)."""
        table = self.ledger.search_runs(where=q.where or None, experiment=q.experiment,
                                        order_by=[sort_clause(q.sort, q.descending)],
                                        include_deleted=q.deleted)
        available = [c for c in table.column_names if c not in ("deleted",)]
        shown = [c for c in q.columns if c in available] or default_columns(available)
        page = table.slice(max(q.offset, 0), max(1, min(q.limit, MAX_PAGE)))
        values = {c: page[c].to_pylist() for c in ["run_id", *shown]}
        flags = page["deleted"].to_pylist() if "deleted" in page.column_names else None
        rows = [{"id": rid, "deleted": bool(flags[i]) if flags else False,
                 "cells": [jsonable(values[c][i]) for c in shown]}
                for i, rid in enumerate(values["run_id"])]
        return {"total": table.num_rows, "offset": q.offset, "columns": shown,
                "available": available, "rows": rows}

    # -- charts -----------------------------------------------------------------------------
    def chart(self, run_ids: Sequence[str], key: str | None, x_axis: str,
              points: int) -> dict[str, Any]:
        """Downsampled histories of one metric of several runs (LTTB, per run)."""
        import numpy as np

        from ledger.serve.ui.downsample import many

        lg = self.ledger
        ids = [lg.resolve(r) for r in run_ids]
        listed = lg.search_runs(where=f"run_id IN ({', '.join(repr(i) for i in ids)})",
                                include_deleted=True)
        names = dict(zip(listed["run_id"].to_pylist(), listed["name"].to_pylist()))
        keys = sorted(c.split(".", 1)[1] for c in listed.column_names
                      if c.startswith("metrics."))
        if key is None:
            key = keys[0] if keys else None
        budget = max(100, min(points, CHART_BUDGET // max(len(ids), 1)))
        found = []
        for rid in ids:
            data = lg.get_metric_history(rid, key) if key else None
            if data is None or data.num_rows == 0:
                continue
            y = data["value"].to_numpy()
            if x_axis == "step":
                x = data["step"].to_numpy()
            else:
                stamps = data["timestamp"].to_numpy().astype(np.float64) / 1000.0
                x = stamps - stamps.min() if x_axis == "relative" else stamps
                order = np.argsort(x, kind="stable")
                x, y = x[order], y[order]
            found.append((rid, x, y))
        shown = many([(x, y) for _, x, y in found], budget)
        out = [{"id": rid, "name": names.get(rid, rid[:8]), "x": xs, "y": ys,
                "points": len(x)} for (rid, x, _), (xs, ys) in zip(found, shown)]
        return {"key": key, "keys": keys, "x": x_axis, "series": out}

    # -- one run ----------------------------------------------------------------------------
    def run_files(self, run_id: str) -> tuple[str | None, dict[str, str]]:
        """The dirty patch (text) and the installed packages of a run."""
        import json

        patch = self.ledger.read_run_file(run_id, "source.patch")
        packages = self.ledger.read_run_file(run_id, "environment.json")
        try:
            listed = json.loads(packages) if packages else {}
        except ValueError:
            listed = {}
        return (patch.decode("utf-8", "replace") if patch is not None else None,
                listed if isinstance(listed, dict) else {})

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        runs = [self.ledger.get_run(r) for r in run_ids]
        rows = self.ledger.diff([r.id for r in runs], all_keys=True)
        numeric = []
        for row in rows:
            if row["same"] or row["key"].startswith("tags."):
                continue
            values = [_number(v) for v in row["values"]]
            if sum(v is not None for v in values) >= 2:
                numeric.append({"key": row["key"], "values": values})
        return {"runs": runs, "rows": rows, "axes": numeric}


def default_columns(available: Sequence[str]) -> list[str]:
    metrics = [c for c in available if c.startswith("metrics.")]
    params = [c for c in available if c.startswith("params.")][:6]
    return [c for c in DEFAULT_ATTRIBUTES if c in available] + metrics[:12] + params


def to_int(text: str | None, default: int) -> int:
    """A non-negative integer from a query parameter, else `default`."""
    try:
        return max(0, int(text)) if text is not None else default
    except ValueError:
        return default


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
