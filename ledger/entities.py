"""`ledger.entities`, as `mlflow.entities`: Metric, Param, RunTag and ViewType."""

from __future__ import annotations

from ledger.mlflow_compat.entities import Metric, Param, RunTag, ViewType

__all__ = ["Metric", "Param", "RunTag", "ViewType"]
