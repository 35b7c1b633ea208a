"""The model registry's public API: register a run's artifacts as a model version, move stages,
read the registry, and fetch a version's folder.

    import ledger
    ledger.register_model("iris", run_id, path="model")   # -> Registered(tag="iris@v0.0.1", ...)
    ledger.promote_model("iris", "v0.0.1", "production")   # -> "iris#production#1"
    folder = ledger.load_model_dir("iris#production")      # a local folder with the package

Every function takes ``repo=``: a path (default: ``LEDGER_REPO``, else the current folder) or an
open :class:`~ledger.api.Ledger`. The registry is the repository's tags (``ledger.registry``);
reading it needs git only, so the read functions never load the run store.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.api import RepoArg, close_ledger, open_ledger, where
from ledger.errors import InvalidInputError, RunStateError, TagExistsError
from ledger.registry.message import VersionInfo, parse_version_message
from ledger.registry.state import Model, Resolved, Version, load_state
from ledger.registry.tags import BumpPart, TagKind, check_name, parse_ref, parse_version
from ledger.store import gitdir as gitdirs

if TYPE_CHECKING:
    pass

# -- writing -----------------------------------------------------------------------------------
_REGISTER_TRIES = 5


@dataclass(frozen=True)
class Registered:
    """A new model version."""

    tag: str
    model: str
    version: str
    commit: str  # the package commit; its tree is the model folder
    run_id: str
    manifest_digest: str
    files: int


def register_model(name: str, run_id: str, *, path: str | None = None,
                   version: str | None = None, bump: BumpPart | None = None,
                   message: str | None = None, sign: bool | None = None,
                   allow_unfinished: bool = False, repo: RepoArg = None) -> Registered:
    """Register the artifacts of a run (``path``: a file or folder below its artifacts; None:
    all of them) as a new version ``NAME@vX.Y.Z`` of model ``name``.

    The version is ``version``, else the ``bump`` (default patch) of the highest one so far,
    else v0.0.1. Refused, with nothing written: a bad name or version, a version that exists, a
    run that is not FINISHED (unless ``allow_unfinished``) or is deleted, no artifacts at
    ``path``. ``sign`` signs the tag (None: git's ``tag.gpgSign``).
    """
    from ledger import names
    from ledger.registry import ops
    from ledger.registry.package import build_package

    check_name(name)
    if version is not None and bump is not None:
        raise InvalidInputError("give either --version or --bump, not both")
    wanted = parse_version(version) if version is not None else None
    artifact_path = names.check_artifact_path(path) if path else None
    lg, opened = open_ledger(repo)
    try:
        run = lg.get_run(run_id)
        if run.info.deleted:
            raise RunStateError(f"run {run.id} is deleted; restore it before registering it")
        if run.info.status != "FINISHED" and not allow_unfinished:
            raise RunStateError(
                f"run {run.id} is {run.info.status}, not FINISHED; register a finished run "
                "(or pass --allow-unfinished)"
            )
        for attempt in range(_REGISTER_TRIES):
            state = load_state(lg, [name])
            v = wanted if wanted is not None else state.next_version(name, bump)
            if state.version(name, v) is not None:
                raise TagExistsError(f"{name}@{v} exists already; version numbers are not reused")
            package = build_package(lg.store, run, name, str(v), artifact_path)
            info = VersionInfo(run.id, run.source.get("commit"), package.manifest_digest,
                               run.metrics)
            try:
                tag = ops.register(lg, name, package.commit, version=v, info=info,
                                   message=message, sign=sign)
                break
            except TagExistsError:  # a concurrent register took the number: take the next
                if wanted is not None or attempt == _REGISTER_TRIES - 1:
                    raise
    finally:
        close_ledger(lg, opened)
    return Registered(tag, name, str(v), package.commit, run.id, package.manifest_digest,
                      len(package.manifest["files"]))


def promote_model(name: str, version: str, stage: str, *, message: str | None = None,
                  sign: bool | None = None, repo: RepoArg = None) -> str:
    """Assign ``stage`` to a version: the tag ``NAME#STAGE#N`` (N: the model's next counter)."""
    from ledger.registry import ops  # the read path does without signing's imports

    return ops.promote(where(repo), name, version, stage, message=message, sign=sign)


def demote_model(name: str, version: str, stage: str, *, message: str | None = None,
                 sign: bool | None = None, repo: RepoArg = None) -> str:
    """Take ``stage`` away from a version: the tag ``NAME#STAGE!#N``."""
    from ledger.registry import ops

    return ops.unassign(where(repo), name, version, stage, message=message, sign=sign)


def deregister_model(name: str, version: str, *, message: str | None = None,
                     sign: bool | None = None, repo: RepoArg = None) -> str:
    """Withdraw a version: the tag ``NAME@vX.Y.Z!``; its number is never issued again."""
    from ledger.registry import ops

    return ops.deregister(where(repo), name, version, message=message, sign=sign)


def deprecate_model(name: str, *, message: str | None = None, sign: bool | None = None,
                    repo: RepoArg = None) -> str:
    """Deprecate a whole model: the tag ``NAME@deprecated``."""
    from ledger.registry import ops

    return ops.deprecate(where(repo), name, message=message, sign=sign)


# -- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest: str | None
    stages: dict[str, str]  # stage -> version now in it
    versions: int  # registered and not deregistered
    deprecated: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionRow:
    model: str
    version: str
    stages: list[str]  # the stages this version is in now
    run_id: str | None
    commit: str
    tag: str
    created_time: int  # ms since the epoch (the tag's date)
    tagger: str
    signed: bool
    deregistered: bool
    source_commit: str | None
    manifest: str | None
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryEvent:
    model: str
    event: str  # registered, deregistered, assigned, unassigned, deprecated
    version: str | None
    stage: str | None
    counter: int | None
    tag: str
    commit: str
    event_time: int  # ms since the epoch (the tag's date)
    tagger: str
    signed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_models(*, repo: RepoArg = None) -> list[ModelSummary]:
    """Every model in the registry, by name."""
    state = load_state(where(repo))
    out = []
    for name in sorted(state.models):
        model = state.models[name]
        latest = model.latest()
        out.append(ModelSummary(
            name, str(latest.version) if latest else None,
            {s: str(e.version) for s, e in sorted(model.stages().items()) if e.version},
            sum(not v.deregistered for v in model.versions.values()), model.deprecated))
    return out


def show_model(name_or_ref: str, *, repo: RepoArg = None) -> list[VersionRow]:
    """The versions of a model, newest first; or, for ``NAME@vX.Y.Z`` / ``NAME@latest`` /
    ``NAME#STAGE``, the one version it resolves to."""
    ref = parse_ref(name_or_ref) if "@" in name_or_ref or "#" in name_or_ref else None
    state = load_state(where(repo), [ref.model if ref else name_or_ref])
    if ref is not None:
        found = state.resolve(name_or_ref, allow_deprecated=True)
        model = state.model(found.model)
        return [_version_row(model, found.version)] if found.version else []
    model = state.model(name_or_ref)
    return [_version_row(model, model.versions[v]) for v in sorted(model.versions, reverse=True)]


def _version_row(model: Model, v: Version) -> VersionRow:
    stages = sorted(s for s, e in model.stages().items() if e.version == v.version)
    info = parse_version_message(v.message)
    return VersionRow(model.name, str(v.version), stages, info.run_id, v.commit, v.tag,
                      v.time * 1000, v.tagger, v.signed, v.deregistered, info.source_commit,
                      info.manifest_digest, dict(info.metrics))


def model_history(name: str, *, repo: RepoArg = None) -> list[HistoryEvent]:
    """Every event of a model: stage events in counter order, the others by date between them."""
    state = load_state(where(repo), [name])
    model = state.model(name)
    kinds = {TagKind.REGISTER: "registered", TagKind.DEREGISTER: "deregistered",
             TagKind.DEPRECATE: "deprecated"}
    others = sorted(
        (r for r in state.records
         if r.parsed.model == model.name and r.annotated and r.parsed.kind in kinds),
        key=lambda r: (r.time, r.name))
    plain = [HistoryEvent(model.name, kinds[r.parsed.kind],
                          str(r.parsed.version) if r.parsed.version else None, None,
                          r.parsed.counter, r.name, r.commit, r.time * 1000, r.tagger, r.signed)
             for r in others]
    staged = [HistoryEvent(model.name, "assigned" if e.assigned else "unassigned",
                           str(e.version) if e.version else None, e.stage, e.counter, e.tag,
                           e.commit, e.time * 1000, e.tagger, e.signed) for e in model.events]
    return list(heapq.merge(plain, staged, key=lambda e: e.event_time))


def resolve_model(ref: str, *, repo: RepoArg = None) -> Resolved:
    """What ``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE`` points to now."""
    return load_state(where(repo), [parse_ref(ref).model]).resolve(ref)


# -- fetching ----------------------------------------------------------------------------------
def get_model(ref: str, dst: str | os.PathLike[str], *, repo: RepoArg = None) -> Path:
    """Write the package of ``ref`` into ``dst``, byte for byte as ``git archive`` would."""
    return _export(resolve_model(ref, repo=repo).commit, dst, repo)


def load_model_dir(ref: str, dst: str | os.PathLike[str] | None = None, *,
                   repo: RepoArg = None) -> Path:
    """A local folder holding the package of ``ref`` (``NAME@vX.Y.Z``, ``NAME@latest`` or
    ``NAME#STAGE``). Without ``dst``: a cache folder under ``.git/ledger/models/``, keyed by
    the package commit, written once and reused."""
    found = resolve_model(ref, repo=repo)
    if dst is not None:
        return _export(found.commit, dst, repo)
    cached = gitdirs.find(where(repo)).ledger_dir / "models" / found.commit
    if cached.is_dir():  # it appears only whole (built beside it, then renamed)
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _export(found.commit, cached, repo)
    except OSError:
        if cached.is_dir():  # a concurrent caller renamed its copy into place first
            return cached
        raise


def _export(commit: str, dst: str | os.PathLike[str], repo: RepoArg) -> Path:
    from ledger.registry.package import export_package

    lg, opened = open_ledger(repo, recover=False)
    try:
        return export_package(lg.store.objects, commit, dst, lg.gitdir)
    finally:
        close_ledger(lg, opened)
