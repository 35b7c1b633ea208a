"""The registry state: what the tags of a repository say about each model.

Rules (GTO's, except where noted):

* A version is registered by ``NAME@vX.Y.Z`` and deregistered by ``NAME@vX.Y.Z!``; the last of
  these events decides (a re-registration ``NAME@vX.Y.Z#N`` revives it).
* An assignment or unassignment applies to the version registered at the tag's commit (GTO
  finds the version by commit too); at a commit with no registered version, ``version`` is None.
* Stage history is ordered by the ``#N`` counter, not by clock (GTO orders by tag time). Tags
  without a counter (GTO's ``--simple`` form) come before every tag with one, by time, then by
  name; equal counters are ordered by time, then by name.
* ``NAME#STAGE`` is the version most recently assigned STAGE and not unassigned since, among
  versions that are not deregistered (what ``gto show`` displays with its default
  ``--sort timestamp``).
* ``NAME@latest`` is the highest registered, not deregistered version by SemVer precedence.
* A model is deprecated when a ``NAME@deprecated`` tag has no later event of that model (by
  counter when both tags carry one, else by tag time), as GTO decides ``is_active``.
* ``next_counter``: one more than the highest counter on any tag of the model, lightweight
  tags included (GTO's rule), or 1.
* ``next_version``: v0.0.1 first; else the bump (default patch) of the highest version ever
  registered, deregistered ones included, so a number is never issued twice (GTO bumps the
  latest active one, which can collide with a deregistered version's tag).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ledger.errors import RegistryLookupError
from ledger.registry.message import parse_version_message
from ledger.registry.tagrefs import TagRecord, read_tag_records
from ledger.registry.tags import BumpPart, SemVer, TagKind, bump, parse_ref, parse_version
from ledger.store.git import RepoLike

FIRST_VERSION = SemVer(0, 0, 1)


def _order(rec: TagRecord) -> tuple[int, int, int, str]:
    counter = rec.parsed.counter
    return (0 if counter is None else 1, counter or 0, rec.time, rec.name)


def _after(a: TagRecord, b: TagRecord) -> bool:
    if a.parsed.counter is not None and b.parsed.counter is not None:
        return a.parsed.counter > b.parsed.counter
    return a.time > b.time


def run_id_of(message: str) -> str | None:
    """The run id recorded in a version tag message, on a line ``run: <id>``."""
    return parse_version_message(message).run_id


@dataclass(frozen=True)
class Version:
    """A registered model version (from its latest registration tag)."""

    model: str
    version: SemVer
    commit: str
    tag: str
    tagger: str
    time: int
    message: str
    signed: bool
    deregistered: bool

    @property
    def run_id(self) -> str | None:
        return run_id_of(self.message)


@dataclass(frozen=True)
class StageEvent:
    """One assignment or unassignment of a stage."""

    model: str
    stage: str
    assigned: bool  # False for an unassignment
    version: SemVer | None  # None if no version is registered at the commit
    commit: str
    counter: int | None
    tag: str
    tagger: str
    time: int
    message: str
    signed: bool


@dataclass
class Model:
    """Everything the tags say about one model."""

    name: str
    versions: dict[SemVer, Version] = field(default_factory=dict)
    events: list[StageEvent] = field(default_factory=list)  # stage history, in order
    deprecated: bool = False
    max_counter: int = 0

    def latest(self) -> Version | None:
        """The highest registered version that is not deregistered."""
        live = [v for v in self.versions.values() if not v.deregistered]
        return max(live, key=lambda v: v.version) if live else None

    def current(self, stage: str) -> StageEvent | None:
        """The assignment that puts a version in ``stage`` now, or None."""
        active: dict[object, StageEvent] = {}
        for event in self.events:
            if event.stage != stage:
                continue
            key = event.version if event.version is not None else event.commit
            if event.assigned:
                active.pop(key, None)  # re-inserted last: the most recent assignment wins
                active[key] = event
            else:
                active.pop(key, None)
        for event in reversed(active.values()):
            version = self.versions.get(event.version) if event.version else None
            if version is None or not version.deregistered:
                return event
        return None

    def stages(self) -> dict[str, StageEvent]:
        """Every stage that a version is in now, with the assignment that put it there."""
        result = {}
        for stage in dict.fromkeys(e.stage for e in self.events):
            event = self.current(stage)
            if event is not None:
                result[stage] = event
        return result

    def was_assigned(self, version: SemVer, stage: str) -> bool:
        """Whether ``version`` was ever assigned ``stage`` (unassigned since or not)."""
        return any(e.assigned and e.stage == stage and e.version == version for e in self.events)


@dataclass(frozen=True)
class Resolved:
    """What a reference resolved to."""

    ref: str
    model: str
    commit: str
    version: Version | None  # None for an assignment to a commit with no registered version
    via: str  # the tag that decided it


@dataclass
class RegistryState:
    """All models of a repository; build it with :func:`load_state`."""

    models: dict[str, Model] = field(default_factory=dict)
    records: list[TagRecord] = field(default_factory=list)

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise RegistryLookupError(f"model {name!r} is not in the registry") from None

    def latest(self, name: str) -> Version | None:
        return self.models[name].latest() if name in self.models else None

    def current(self, name: str, stage: str) -> StageEvent | None:
        return self.models[name].current(stage) if name in self.models else None

    def next_counter(self, name: str) -> int:
        return (self.models[name].max_counter if name in self.models else 0) + 1

    def next_version(self, name: str, part: BumpPart | None = None) -> SemVer:
        model = self.models.get(name)
        if model is None or not model.versions:
            return bump(SemVer(0, 0, 0), part) if part else FIRST_VERSION
        return bump(max(model.versions), part or "patch")

    def resolve(self, ref: str, *, allow_deprecated: bool = False) -> Resolved:
        """Resolve ``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE``."""
        parsed = parse_ref(ref)
        model = self.model(parsed.model)
        if model.deprecated and not allow_deprecated:
            raise RegistryLookupError(f"model {model.name!r} is deprecated ({ref})")
        if parsed.stage is not None:
            event = model.current(parsed.stage)
            if event is None:
                raise RegistryLookupError(f"no version of {model.name!r} is in {parsed.stage!r}")
            version = model.versions.get(event.version) if event.version else None
            return Resolved(ref, model.name, event.commit, version, event.tag)
        if parsed.version is None:
            found = model.latest()
            if found is None:
                raise RegistryLookupError(f"model {model.name!r} has no registered version")
        else:
            found = model.versions.get(parsed.version)
            if found is None:
                raise RegistryLookupError(f"version {ref} is not registered")
            if found.deregistered:
                raise RegistryLookupError(f"version {ref} was deregistered")
        return Resolved(ref, model.name, found.commit, found, found.tag)

    def version(self, name: str, version: SemVer | str) -> Version | None:
        v = parse_version(version) if isinstance(version, str) else version
        model = self.models.get(name)
        return model.versions.get(v) if model else None


def load_state(repo: RepoLike, models: Iterable[str] | None = None) -> RegistryState:
    """Read the registry state of a repository (one ``git for-each-ref``); with ``models``,
    of those models only (git then reads only their tag objects)."""
    return build_state(read_tag_records(repo, models))


def build_state(records: Iterable[TagRecord]) -> RegistryState:
    """Build the state from tag records (pure; for tests and for other tag sources)."""
    by_model: dict[str, list[TagRecord]] = {}
    state = RegistryState(records=list(records))
    for rec in state.records:
        by_model.setdefault(rec.parsed.model, []).append(rec)
    for name, recs in by_model.items():
        state.models[name] = _build_model(name, recs)
    return state


def _build_model(name: str, recs: list[TagRecord]) -> Model:
    model = Model(name, max_counter=max((r.parsed.counter or 0) for r in recs))
    events = sorted((r for r in recs if r.annotated), key=_order)
    _index_versions(model, events)
    # GTO allows one version per commit; if there are more, prefer a live one, then the highest.
    at_commit: dict[str, Version] = {}
    for v in model.versions.values():
        best = at_commit.get(v.commit)
        if best is None or (not v.deregistered, v.version) > (not best.deregistered, best.version):
            at_commit[v.commit] = v
    for rec in events:
        p = rec.parsed
        if p.kind in (TagKind.ASSIGN, TagKind.UNASSIGN) and p.stage is not None:
            model.events.append(
                StageEvent(
                    model=name,
                    stage=p.stage,
                    assigned=p.kind is TagKind.ASSIGN,
                    version=at_commit[rec.commit].version if rec.commit in at_commit else None,
                    counter=p.counter,
                    **_told_by(rec),
                )
            )
    model.deprecated = any(
        d.parsed.kind is TagKind.DEPRECATE
        and not any(_after(e, d) for e in events if e.parsed.kind is not TagKind.CREATE)
        for d in events
    )
    return model


def _told_by(rec: TagRecord) -> dict[str, Any]:
    """What a version or a stage event takes from its tag: commit, tag, who, when, why."""
    return {"commit": rec.commit, "tag": rec.name, "tagger": rec.tagger, "time": rec.time,
            "message": rec.message, "signed": rec.signed}


def _index_versions(model: Model, events: list[TagRecord]) -> None:
    for rec in events:  # in order, so the last event of a version decides
        p = rec.parsed
        if p.version is None:
            continue
        if p.kind is TagKind.REGISTER:
            model.versions[p.version] = Version(
                model=model.name, version=p.version, deregistered=False, **_told_by(rec))
        elif p.kind is TagKind.DEREGISTER and p.version in model.versions:
            old = model.versions[p.version]
            model.versions[p.version] = replace(old, deregistered=True)
