"""Read-only views of a run, shaped like MLflow's (`run.info`, `run.data`) and SPEC §4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    @property
    def lifecycle_stage(self) -> str:
        return "deleted" if self.deleted else "active"


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
    def data(self) -> Run:
        """MLflow habit: `run.data.params`, `run.data.metrics`, `run.data.tags`."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of SPEC §3."""
        return self.record.public()

    @classmethod
    def of(cls, record: RunRecord) -> Run:
        info = RunInfo(record.id, record.experiment, record.name, record.status,
                       record.start_time, record.end_time, record.user, record.deleted)
        return cls(record.id, info, dict(record.params), dict(record.metrics), dict(record.tags),
                   dict(record.source), dict(record.environment), list(record.inputs),
                   list(record.artifacts), record)
