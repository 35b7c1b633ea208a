"""`ledger lineage REF`: source commit + inputs -> run -> model versions -> stages.

REF is a run (id or prefix), or a model reference (``NAME@vX.Y.Z``, ``NAME@latest``,
``NAME#STAGE``), which leads to the run the version was registered from. The chain is data
(:class:`Lineage`, ``to_dict()`` for JSON); the CLI words it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.errors import RegistryLookupError
from ledger.runs.record import float_to_json

if TYPE_CHECKING:
    from ledger.api import Ledger


@dataclass(frozen=True)
class ModelLink:
    model: str
    version: str
    tag: str
    commit: str  # the package commit
    stages: list[str]  # the stages this version is in now
    deregistered: bool


@dataclass
class Lineage:
    ref: str
    source: dict[str, Any]  # commit, branch, dirty, argv
    inputs: list[dict[str, Any]]
    run: dict[str, Any]  # id, name, experiment, status, metrics
    models: list[ModelLink] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_model_ref(ref: str) -> bool:
    return "@" in ref or "#" in ref


def lineage(lg: Ledger, ref: str) -> Lineage:
    from ledger.registry.state import load_state

    state = load_state(lg)
    run_id = ref
    if is_model_ref(ref):
        found = state.resolve(ref, allow_deprecated=True)
        if found.version is None or found.version.run_id is None:
            raise RegistryLookupError(f"{ref} records no run: its lineage is unknown")
        run_id = found.version.run_id
    run = lg.get_run(run_id)
    links = []
    for name in sorted(state.models):
        model = state.models[name]
        staged = model.stages()
        for version in sorted(model.versions.values(), key=lambda v: v.version):
            if version.run_id != run.id:
                continue
            stages = sorted(s for s, e in staged.items() if e.version == version.version)
            links.append(ModelLink(name, str(version.version), version.tag, version.commit,
                                   stages, version.deregistered))
    source = {k: run.source.get(k) for k in ("commit", "branch", "dirty", "argv")}
    info = {"id": run.id, "name": run.info.run_name, "experiment": run.info.experiment,
            "status": run.info.status,
            "metrics": {k: float_to_json(v) for k, v in sorted(run.metrics.items())}}
    return Lineage(ref, source, list(run.inputs), info, links)
