"""Rendering for the terminal: table, JSON and CSV. The only place (with cli.py) that prints."""

from __future__ import annotations

import io
import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "csv")


def default_format() -> str:
    return "table" if sys.stdout.isatty() else "json"


def jsonable(value: Any) -> Any:
    """NaN and ±inf as the strings of SPEC §3; everything else as is."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False)


def cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if column.endswith("_time") and isinstance(value, int):
        return clock(value)
    if isinstance(value, float):
        shown = jsonable(value)
        return shown if isinstance(shown, str) else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return str(value)


def clock(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], max_width: int = 60) -> str:
    if not rows:
        return "(none)"
    texts = [[cell(r.get(c), c) for c in columns] for r in rows]
    widths = [min(max_width, max(len(c), *(len(t[i]) for t in texts)))
              for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [(v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(values, widths)]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(t) for t in texts)
    return "\n".join(out)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    import csv

    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([cell(r.get(c)) if not isinstance(r.get(c), int) else r.get(c)
                         for c in columns])
    return buf.getvalue().rstrip("\n")


def rows(data: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str,
         json_data: Any = None) -> str:
    """A list of rows in the chosen format (`json_data` replaces the rows for JSON)."""
    if fmt == "json":
        return to_json(list(data) if json_data is None else json_data)
    if fmt == "csv":
        return to_csv(data, columns)
    return table(data, columns)


def record(doc: dict[str, Any], fmt: str) -> str:
    """One run (SPEC §3 shape) for `ledger show`."""
    if fmt == "json":
        return to_json(doc)
    flat = flatten_run(doc)
    if fmt == "csv":
        return to_csv([flat], list(flat))
    width = max(len(k) for k in flat)
    lines = [f"{k.ljust(width)}  {cell(v, k)}" for k, v in flat.items()]
    return "\n".join(lines)


def flatten_run(doc: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key in ("id", "experiment", "name", "status", "start_time", "end_time", "user",
                "deleted"):
        flat[key] = doc.get(key)
    for section in ("params", "metrics", "tags", "source"):
        for key, value in sorted(doc.get(section, {}).items()):
            flat[f"{section}.{key}"] = value
    for i, entry in enumerate(doc.get("inputs", [])):
        flat[f"inputs.{i}"] = f"{entry.get('path')} {entry.get('digest')} {entry.get('size')}"
    for entry in doc.get("artifacts", []):
        flat[f"artifacts.{entry['path']}"] = entry.get("size")
    return flat


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 20)).columns
