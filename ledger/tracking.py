"""`ledger.tracking.MlflowClient`, as `mlflow.tracking.MlflowClient`."""

from __future__ import annotations

from ledger.mlflow_compat.client import Client as MlflowClient

__all__ = ["MlflowClient"]
