"""Registry operations, one tag each: register, promote, unassign, deregister, deprecate.

What the ``ledger model ...`` commands call. Each reads the state, checks the request the
way GTO does (a version exists once, one live version per commit, no promotion to a stage the
version is in already), creates one annotated tag through :mod:`ledger.registry.signing` and
returns its name. A counter taken by a concurrent writer is retried with the next one.

A deprecation (``NAME@deprecated``, no counter) is ordered against the model's other events by
tag date, which git keeps to the second, and GTO breaks a tie the other way than we do. So a
deprecation, and any event of a deprecated model, waits if need be for the next second: its
date is then strictly after the events before it, and both tools agree on what happened last.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

from ledger.errors import RegistryError, RegistryLookupError, RegistryNameError, TagExistsError
from ledger.registry.message import VersionInfo, format_version_message
from ledger.registry.signing import create_tag
from ledger.registry.state import RegistryState, Version, load_state
from ledger.registry.tags import (
    BumpPart,
    RegistryTag,
    SemVer,
    TagKind,
    assignment_tag,
    check_name,
    deprecation_tag,
    deregistration_tag,
    parse_version,
    unassignment_tag,
    version_tag,
)
from ledger.store.git import RepoLike, run_git

_RETRIES = 12


def register(
    repo: RepoLike,
    model: str,
    commit: str,
    *,
    version: SemVer | str | None = None,
    bump: BumpPart | None = None,
    info: VersionInfo | None = None,
    message: str | None = None,
    sign: bool | None = None,
) -> str:
    """Tag ``commit`` (which holds the model package) as a new version of ``model``.

    The version is ``version``, or the ``bump`` (default patch) of the highest one so far, or
    v0.0.1 for the first. The tag message is :func:`format_version_message` of ``info``, with
    ``message`` (the user's ``-m``) as its first paragraph when given.
    """
    check_name(model)
    if version is not None and bump is not None:
        raise RegistryNameError("give either a version or a bump, not both")
    state = load_state(repo, [model])
    v = state.next_version(model, bump) if version is None else _version(version)
    if state.version(model, v) is not None:
        raise TagExistsError(f"{model}@{v} was registered already; version numbers are not reused")
    sha = _commit(repo, commit)
    _wait_past(state, model, deprecations_only=True)
    taken = [x for x in _versions(state, model) if x.commit == sha and not x.deregistered]
    if taken:
        raise RegistryError(f"commit {sha[:12]} is already {model}@{taken[0].version}")
    text = format_version_message(model, str(v), info or VersionInfo(), message)
    name = version_tag(model, v)
    create_tag(repo, name, sha, text, sign=sign)
    return name


def promote(
    repo: RepoLike,
    model: str,
    version: SemVer | str,
    stage: str,
    *,
    message: str | None = None,
    sign: bool | None = None,
    force: bool = False,
) -> str:
    """Assign ``stage`` to a registered version (``NAME#STAGE#N``)."""
    check_name(stage, "stage name")
    v = _version(version)

    def make(state: RegistryState) -> tuple[str, str]:
        found = _live(state, model, v)
        current = state.current(model, stage)
        if current is not None and current.version == v and not force:
            raise RegistryError(f"{model}@{v} is in {stage} already ({current.tag})")
        return assignment_tag(model, stage, state.next_counter(model)), found.commit

    text = message or f"Assigning stage {stage} to artifact {model} version {v}"
    return _create_counted(repo, model, make, text, sign)


def unassign(
    repo: RepoLike,
    model: str,
    version: SemVer | str,
    stage: str,
    *,
    message: str | None = None,
    sign: bool | None = None,
) -> str:
    """Take ``stage`` away from a version (``NAME#STAGE!#N``)."""
    v = _version(version)

    def make(state: RegistryState) -> tuple[str, str]:
        found = _live(state, model, v)
        events = [e for e in state.model(model).events if e.stage == stage and e.version == v]
        if not events or not events[-1].assigned:
            raise RegistryError(f"{model}@{v} is not in {stage}")
        return unassignment_tag(model, stage, state.next_counter(model)), found.commit

    text = message or f"Unassigning stage {stage} from artifact {model} version {v}"
    return _create_counted(repo, model, make, text, sign)


def deregister(
    repo: RepoLike,
    model: str,
    version: SemVer | str,
    *,
    message: str | None = None,
    sign: bool | None = None,
) -> str:
    """Deregister a version (``NAME@vX.Y.Z!``); its stages no longer resolve to it."""
    v = _version(version)
    state = load_state(repo, [model])
    found = _live(state, model, v)
    _wait_past(state, model, deprecations_only=True)
    name = deregistration_tag(model, v)
    create_tag(repo, name, found.commit, message or f"Deregistering {model} version {v}", sign=sign)
    return name


def deprecate(
    repo: RepoLike, model: str, *, message: str | None = None, sign: bool | None = None
) -> str:
    """Deprecate a model (``NAME@deprecated``; ``NAME@deprecated#N`` if that tag exists)."""
    state = load_state(repo, [model])
    found = state.model(model)
    if found.deprecated:
        raise RegistryError(f"model {model} is deprecated already")
    ours = [r for r in state.records if r.parsed.model == model and r.annotated]
    commit = max(ours, key=lambda r: (r.time, r.name)).commit  # GTO: the latest event's commit
    name = deprecation_tag(model)
    if any(r.name == name for r in state.records):  # deprecated before, then revived
        name = str(RegistryTag(TagKind.DEPRECATE, model, counter=state.next_counter(model)))
    _wait_past(state, model, deprecations_only=False)
    create_tag(repo, name, commit, message or f"Deprecating model {model}", sign=sign)
    return name


def _create_counted(
    repo: RepoLike,
    model: str,
    make: Callable[[RegistryState], tuple[str, str]],
    message: str,
    sign: bool | None,
) -> str:
    for attempt in range(_RETRIES):
        state = load_state(repo, [model])
        name, commit = make(state)
        _wait_past(state, model, deprecations_only=True)
        try:
            obj = create_tag(repo, name, commit, message, sign=sign)
        except TagExistsError:
            if attempt == _RETRIES - 1:
                raise
            continue
        # Another writer may have taken the same counter under another name at the same
        # moment (`m#prod#6` beside `m#prod!#6`): whoever sees the clash after creating its
        # tag gives its own up (only if it is still the tag it made) and takes the next one.
        if not _counter_clash(repo, model, name):
            return name
        run_git(repo, ["update-ref", "-d", f"refs/tags/{name}", obj], check=False)
        time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
    raise RegistryError(f"could not assign a counter to a tag of {model}: other writers kept "
                        "taking the same one; try again")


def _counter_clash(repo: RepoLike, model: str, name: str) -> bool:
    state = load_state(repo, [model])
    mine = next((r.parsed.counter for r in state.records if r.name == name), None)
    return mine is not None and any(
        r.parsed.model == model and r.parsed.counter == mine and r.name != name
        for r in state.records)


def _wait_past(state: RegistryState, model: str, *, deprecations_only: bool) -> None:
    """Sleep until the second after the model's latest (deprecation) tag, if that is now."""
    found = state.models.get(model)
    if found is None or (deprecations_only and not found.deprecated):
        return
    if os.environ.get("GIT_COMMITTER_DATE"):  # the caller dates the tags itself
        return
    kinds = {TagKind.DEPRECATE} if deprecations_only else set(TagKind)
    times = [r.time for r in state.records
             if r.parsed.model == model and r.annotated and r.parsed.kind in kinds]
    wait = max(times, default=0) + 1 - time.time()
    if 0 < wait <= 1:  # a date further ahead is clock skew: waiting would not help
        time.sleep(wait)


def _version(version: SemVer | str) -> SemVer:
    return parse_version(version) if isinstance(version, str) else version


def _versions(state: RegistryState, model: str) -> list[Version]:
    return list(state.models[model].versions.values()) if model in state.models else []


def _live(state: RegistryState, model: str, version: SemVer) -> Version:
    found = state.version(model, version)
    if found is None:
        raise RegistryLookupError(f"{model}@{version} is not registered")
    if found.deregistered:
        raise RegistryLookupError(f"{model}@{version} was deregistered")
    return found


def _commit(repo: RepoLike, commit: str) -> str:
    proc = run_git(repo, ["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], check=False)
    if proc.returncode != 0:
        raise RegistryLookupError(f"no commit {commit!r} in the repository")
    return proc.stdout.decode().strip()
