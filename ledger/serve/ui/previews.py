"""Previews of artifacts: what kind a file is and a bounded, escaped-later view of it.

Nothing here trusts the bytes: text is decoded with replacement, tables are cut to a few rows,
and the kinds that a browser would run (HTML, SVG, XML) are previewed as source text only.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 200_000
MAX_ROWS = 100
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".bmp": "image/bmp"}
ACTIVE = {".html", ".htm", ".svg", ".xhtml", ".xml", ".js", ".mjs"}
TEXT = {".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh",
        ".patch", ".diff", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".MLmodel", ".css"}


@dataclass
class Preview:
    kind: str  # image, json, csv, parquet, text, active (shown as source), binary
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int | None = None
    truncated: bool = False
    note: str = ""


def suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else name


def is_image(path: str) -> bool:
    return suffix(path) in IMAGE_TYPES


def preview(path: str, data: bytes) -> Preview:
    ext = suffix(path)
    if ext in IMAGE_TYPES:
        return Preview("image")
    if ext == ".parquet":
        return _parquet(data)
    if ext in (".csv", ".tsv"):
        return _csv(data, "\t" if ext == ".tsv" else ",")
    if ext == ".json":
        try:
            shown = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
            return _text("json", shown.encode())
        except ValueError:
            return _text("text", data, "not valid JSON; shown as text")
    if ext in ACTIVE:
        return _text("active", data, "shown as source text: the UI never renders HTML, SVG "
                                     "or scripts from artifacts")
    if ext in TEXT or _looks_textual(data):
        return _text("text", data)
    return Preview("binary", note=f"{len(data)} bytes of binary data")


def _looks_textual(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a character cut at the end of the sample
    return True


def _text(kind: str, data: bytes, note: str = "") -> Preview:
    cut = len(data) > MAX_TEXT
    return Preview(kind, data[:MAX_TEXT].decode("utf-8", "replace"), truncated=cut, note=note)


def _csv(data: bytes, delimiter: str) -> Preview:
    text = data[:MAX_TEXT].decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [row for _, row in zip(range(MAX_ROWS + 1), reader)]
    except csv.Error as exc:
        return Preview("text", text, note=f"not readable as CSV ({exc}); shown as text")
    if not rows:
        return Preview("text", "", note="empty file")
    return Preview("csv", columns=rows[0], rows=rows[1:MAX_ROWS + 1],
                   truncated=len(rows) > MAX_ROWS or len(data) > MAX_TEXT)


def _parquet(data: bytes) -> Preview:
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(io.BytesIO(data)) as source:
            total = source.metadata.num_rows
            head = next(source.iter_batches(batch_size=MAX_ROWS), None)
            columns = source.schema_arrow.names
    except Exception as exc:  # pyarrow raises many kinds for a damaged file
        return Preview("binary", note=f"not readable as Parquet: {exc}")
    rows: list[list[str]] = []
    if head is not None:
        values = [head.column(i).to_pylist() for i in range(head.num_columns)]
        rows = [[_cell(v) for v in row] for row in zip(*values)]
    return Preview("parquet", columns=columns, rows=rows, total_rows=total,
                   truncated=total > len(rows))


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
