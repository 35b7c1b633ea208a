"""Fingerprints of in-memory datasets (pandas, Arrow, numpy) for `log_input`, shaped like a
file input: `{"path": name, "digest": "sha256:…", "size": bytes, "context": …}`, and what
MLflow sees of an input entry (its dataset name and digest, as filters compare them)."""

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


def dataset_name(entry: dict[str, Any]) -> str:
    """An input's name as MLflow shows it (`datasets.name`): its path, or a dataset's name."""
    return str(entry.get("path", ""))


def dataset_digest(entry: dict[str, Any]) -> str:
    """An input's digest as MLflow shows it (`datasets.digest`): MLflow's own digest when the
    dataset was logged through MLflow, else the ledger's `sha256:…`."""
    return str(entry.get("dataset_digest") or entry.get("digest", ""))


CONTEXT_TAG = "mlflow.data.context"


def mlflow_entry(dataset_input: Any) -> dict[str, Any]:
    """The input entry of an MLflow `DatasetInput` (its dataset, its context tag): named by
    the dataset's name, with MLflow's digest kept (`datasets.digest` compares it) and a
    `sha256:` digest of (name, MLflow digest, source) for the ledger's lineage."""
    d = dataset_input.dataset
    digest = hashlib.sha256(f"{d.name}\0{d.digest}\0{d.source}".encode()).hexdigest()
    entry: dict[str, Any] = {"path": str(d.name), "digest": f"sha256:{digest}", "size": 0}
    if d.digest:
        entry["dataset_digest"] = str(d.digest)
    context = next((t.value for t in dataset_input.tags or [] if t.key == CONTEXT_TAG), None)
    if context:
        entry["context"] = str(context)
    return entry
