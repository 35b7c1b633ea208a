"""MLflow's small entities (`mlflow.entities.Metric`, `Param`, `RunTag`, `ViewType`), for
scripts that build batches with them (`client.log_batch(run_id, metrics=[Metric(…)])`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric point, with MLflow's argument order: key, value, timestamp (ms), step."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str = ""


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


class ViewType:
    """Which runs or experiments a search returns."""

    ACTIVE_ONLY, DELETED_ONLY, ALL = 1, 2, 3
