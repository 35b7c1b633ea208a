"""Fingerprints of in-memory datasets (pandas, Arrow, numpy) for `log_input`, shaped like a
file input: `{"path": name, "digest": "sha256:…", "size": bytes, "context": …}`."""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.errors import InvalidInputError


def _content(data: Any) -> bytes:
    kind = type(data).__module__.split(".")[0]
    if kind == "pandas":
        import pandas as pd

        hashed = pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes()
        return "\0".join(map(str, data.columns if hasattr(data, "columns") else [data.name])
                         ).encode() + b"\n" + hashed
    if kind == "pyarrow":
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        table = data if isinstance(data, pa.Table) else pa.table(data)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())
    if kind == "numpy":
        return str(data.dtype).encode() + str(data.shape).encode() + data.tobytes()
    raise InvalidInputError(
        f"log_input takes a file or folder path, a pandas DataFrame, an Arrow table or a "
        f"numpy array, not {type(data).__name__}")


def fingerprint(data: Any, context: str | None = None, name: str | None = None
                ) -> dict[str, Any]:
    """The input entry of an in-memory dataset; its name defaults to `dataset`."""
    raw = _content(data)
    entry: dict[str, Any] = {"path": name or getattr(data, "name", None) or "dataset",
                             "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
                             "size": len(raw)}
    if not isinstance(entry["path"], str):
        entry["path"] = str(entry["path"])
    if context:
        entry["context"] = context
    return entry
