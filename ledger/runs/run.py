"""Read-only views of a run, shaped like MLflow's (`run.info`, `run.data`) and SPEC §4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.runs import mlflow_tags
from ledger.runs.record import RunRecord


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment: str
    run_name: str
    status: str
    start_time: int
    end_time: int | None
    user_id: str
    deleted: bool
    artifact_uri: str = ""

    @property
    def lifecycle_stage(self) -> str:
        return "deleted" if self.deleted else "active"

    @property
    def experiment_id(self) -> str:
        return mlflow_tags.experiment_id(self.experiment)


@dataclass(frozen=True)
class RunData:
    """MLflow's `run.data`: params, latest metrics, and tags with MLflow's system tags."""

    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


@dataclass(frozen=True)
class Run:
    """One run as committed (plus what is journaled on this machine for a live run)."""

    id: str
    info: RunInfo
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    source: dict[str, Any]
    environment: dict[str, Any]
    inputs: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]
    record: RunRecord = field(repr=False, compare=False)

    @property
    def data(self) -> RunData:
        """MLflow habit: `run.data.params`, `run.data.metrics`, `run.data.tags` (the tags with
        MLflow's system tags, derived from the record)."""
        derived = mlflow_tags.system_tags(self.info.run_name, self.info.user_id, self.source,
                                          self.tags)
        return RunData(self.params, self.metrics, {**derived, **self.tags})

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of SPEC §3."""
        return self.record.public()

    @classmethod
    def of(cls, record: RunRecord, artifact_uri: str = "") -> Run:
        info = RunInfo(record.id, record.experiment, record.name, record.status,
                       record.start_time, record.end_time, record.user, record.deleted,
                       artifact_uri)
        return cls(record.id, info, dict(record.params), dict(record.metrics), dict(record.tags),
                   dict(record.source), dict(record.environment), list(record.inputs),
                   list(record.artifacts), record)
