"""Batch scoring of files: CSV, JSON Lines and Parquet are read and written in batches, so a
file larger than memory scores in bounded memory; a JSON file (MLflow's payload, or a list of
records) is one document and is read whole. The output holds one row per input row: the
prediction (``prediction``, or ``prediction_0…`` / the model's own columns)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ledger.errors import InvalidInputError

BATCH_ROWS = 10_000
_KINDS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
          ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class BatchResult:
    rows: int
    batches: int
    output: Path


def kind_of(path: str | os.PathLike[str], given: str | None = None) -> str:
    if given:
        return given
    kind = _KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise InvalidInputError(f"{path}: cannot tell the format from the extension; name it "
                                ".csv, .json, .jsonl or .parquet, or give --input-format/"
                                "--output-format")
    return kind


def read_batches(path: str | os.PathLike[str], kind: str, schema: Any = None,
                 rows: int = BATCH_ROWS) -> Iterator[Any]:
    """The input file as model inputs of at most ``rows`` rows each."""
    if kind == "csv":
        from pyarrow import csv

        reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=1 << 20))
        for batch in reader:
            yield _coerce(batch.to_pandas(), schema)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as f:
            for batch in f.iter_batches(batch_size=rows):
                yield _coerce(batch.to_pandas(), schema)
    elif kind == "jsonl":
        with open(path, encoding="utf-8") as f:
            chunk: list[Any] = []
            for line in f:
                if line.strip():
                    chunk.append(json.loads(line))
                if len(chunk) >= rows:
                    yield _coerce(pd.DataFrame.from_records(chunk), schema)
                    chunk = []
            if chunk:
                yield _coerce(pd.DataFrame.from_records(chunk), schema)
    elif kind == "json":
        from ledger.models.payload import parse_json

        text = Path(path).read_bytes()
        doc = json.loads(text)
        if isinstance(doc, list):
            yield _coerce(pd.DataFrame.from_records(doc), schema)
        else:
            yield parse_json(text, schema)[0]
    else:
        raise InvalidInputError(f"unknown input format {kind!r}")


def _coerce(frame: pd.DataFrame, schema: Any) -> pd.DataFrame:
    from ledger.models.payload import coerce

    return coerce(frame, schema)


def to_table(predictions: Any) -> pa.Table:
    """Predictions as an Arrow table, one row per input row."""
    if isinstance(predictions, pd.DataFrame):
        return pa.Table.from_pandas(predictions, preserve_index=False)
    if isinstance(predictions, pd.Series):
        return pa.table({"prediction": predictions.to_numpy()})
    if isinstance(predictions, dict):
        return pa.table({str(k): _column(v) for k, v in predictions.items()})
    array = np.asarray(predictions)
    if array.ndim == 2:
        return pa.table({f"prediction_{i}": array[:, i] for i in range(array.shape[1])})
    return pa.table({"prediction": _column(array)})


def _column(values: Any) -> Any:
    array = np.asarray(values)
    return array if array.ndim == 1 else list(array.tolist())


class Writer:
    """Writes prediction tables to a CSV, JSON, JSON Lines or Parquet file, batch by batch."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.path = Path(path)
        self.kind = kind
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._file: Any = None
        self._writer: Any = None
        self._first = True

    def write(self, table: pa.Table) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            self._writer.write_table(table)
            return
        if self._file is None:
            self._file = open(self._tmp, "w", encoding="utf-8", newline="")
            if self.kind == "json":
                self._file.write('{"predictions": [')
        if self.kind == "csv":
            table.to_pandas().to_csv(self._file, header=self._first, index=False)
        else:
            rows = table.to_pylist()
            values = [r["prediction"] if list(r) == ["prediction"] else r for r in rows]
            if self.kind == "jsonl":
                self._file.writelines(json.dumps(v) + "\n" for v in values)
            else:
                for v in values:
                    self._file.write(("" if self._first else ", ") + json.dumps(v))
                    self._first = False
        self._first = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is None and self._writer is None:
            self._file = open(self._tmp, "w", encoding="utf-8")
            if self.kind == "json":
                self._file.write('{"predictions": [')
        if self._file is not None:
            if self.kind == "json":
                self._file.write("]}\n")
            self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        for handle in (self._writer, self._file):
            if handle is not None:
                handle.close()
        self._tmp.unlink(missing_ok=True)


def predict_file(model: Any, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                 input_format: str | None = None, output_format: str | None = None,
                 batch_rows: int = BATCH_ROWS) -> BatchResult:
    """Score ``src`` into ``dst`` with a loaded PyFuncModel, batch by batch."""
    writer = Writer(dst, kind_of(dst, output_format))
    rows = batches = 0
    try:
        for data in read_batches(src, kind_of(src, input_format), model.input_schema,
                                 batch_rows):
            table = to_table(model.predict(data))
            writer.write(table)
            rows += table.num_rows
            batches += 1
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return BatchResult(rows, batches, Path(dst))
