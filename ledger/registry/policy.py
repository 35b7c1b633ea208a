"""The reviewed side of the registry: ``ledger.toml`` (check, plan, apply) and signatures.

What ``ledger registry check|plan|apply`` and ``ledger verify`` call. The rules themselves are
in :mod:`ledger.registry.desired` and :mod:`ledger.registry.signing`; this module finds the
file, reads the registry, and looks up the metrics of the run each version tag records
(``run: <id>``) in the run store, which it opens only when a threshold needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.api import RepoArg, close_ledger, open_ledger, where
from ledger.errors import DesiredStateError, InvalidInputError, SignatureError, TagExistsError
from ledger.names import RUN_FILE, RUN_ID_RE, RUNS_REF, run_dir
from ledger.registry import desired as rules
from ledger.registry.state import RegistryState, load_state
from ledger.runs.record import RunRecord
from ledger.store import gitdir as gitdirs
from ledger.store.git import cat_file_batch

if TYPE_CHECKING:
    from ledger.api import Ledger
    from ledger.registry.signing import VerifyResult

FILE_NAME = "ledger.toml"
_APPLY_ROUNDS = 5


def desired_file(file: str | os.PathLike[str] | None = None, *, repo: RepoArg = None) -> Path:
    """``file``, else ``ledger.toml`` at the root of the repository's work tree."""
    if file is not None:
        return Path(file)
    if repo is not None and not isinstance(repo, (str, os.PathLike)):
        root = repo.gitdir.work_tree
    else:
        root = gitdirs.find(repo).work_tree
    if root is None:
        raise InvalidInputError(f"a bare repository has no {FILE_NAME}; pass --file")
    return root / FILE_NAME


class _RunMetrics:
    """``run id -> latest metrics`` of the runs that the thresholds need.

    A version's run is read as committed on ``refs/ledger/runs`` (what a CI clone sees too):
    the records of all ``needed`` runs in one ``git cat-file --batch``, without loading the
    run store. An id not found there (a run still live on this machine, a prefix) goes
    through ``Ledger.get_run``, which also words the error when there is no such run.
    """

    def __init__(self, repo: RepoArg, needed: set[str]) -> None:
        self.repo, self.needed = repo, needed
        self.committed: dict[str, Mapping[str, float]] | None = None
        self.ledger: tuple[Ledger, bool] | None = None

    def __call__(self, run_id: str) -> Mapping[str, float]:
        if self.committed is None:
            self.committed = committed_metrics(where(self.repo), self.needed | {run_id})
        if run_id in self.committed:
            return self.committed[run_id]
        if self.ledger is None:
            self.ledger = open_ledger(self.repo, recover=False)
        return self.ledger[0].get_run(run_id).metrics

    def close(self) -> None:
        if self.ledger is not None:
            close_ledger(*self.ledger)


def committed_metrics(repo: Path, run_ids: set[str]) -> dict[str, Mapping[str, float]]:
    """The latest metrics of the runs committed on ``refs/ledger/runs``, read in one batch."""
    ids = sorted(i for i in run_ids if RUN_ID_RE.match(i))
    if not ids:
        return {}
    objects = cat_file_batch(repo, [f"{RUNS_REF}:{run_dir(i)}/{RUN_FILE}" for i in ids])
    # a missing one is not committed (yet)
    return {rid: RunRecord.from_json(obj.body).metrics
            for rid, obj in zip(ids, objects) if obj is not None and obj.type == "blob"}


def _needed_runs(desired: rules.Desired, state: RegistryState) -> set[str]:
    """The runs of the versions that a threshold applies to."""
    needed = set()
    for model in desired.models.values():
        for stage, version in model.stages.items():
            found = state.version(model.name, version)
            if model.policy.thresholds.get(stage) and found and found.run_id:
                needed.add(found.run_id)
    return needed


def check_registry(file: str | os.PathLike[str] | None = None, *,
                   repo: RepoArg = None) -> list[rules.Problem]:
    """Every rule the desired state breaks (schema, versions, stage order, thresholds,
    signatures); empty when it holds."""
    path = desired_file(file, repo=repo)
    try:
        desired = rules.read_desired(path)
    except DesiredStateError as exc:
        return [rules.Problem("schema", line) for line in (exc.problems or (str(exc),))]
    state = load_state(where(repo))
    metrics = _RunMetrics(repo, _needed_runs(desired, state))
    try:
        return rules.check(desired, state, metrics)
    finally:
        metrics.close()


def plan_registry(file: str | os.PathLike[str] | None = None, *,
                  repo: RepoArg = None) -> list[rules.Action]:
    """Exactly the assignment tags that would make git match the file (none when it does)."""
    desired = rules.read_desired(desired_file(file, repo=repo))
    return rules.plan(desired, load_state(where(repo)))


def apply_registry(file: str | os.PathLike[str] | None = None, *, sign: bool | None = None,
                   repo: RepoArg = None) -> list[str]:
    """Check the file, then create the tags of its plan; returns their names.

    Refuses (nothing written) when the check fails. A counter taken meanwhile by another writer
    makes it plan again from the new state; tags created before that stay, and are not made
    twice.
    """
    problems = check_registry(file, repo=repo)
    if problems:
        lines = tuple(str(p) for p in problems)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise DesiredStateError(f"{lines[0]}{more}; nothing applied", lines)
    created: list[str] = []
    for attempt in range(_APPLY_ROUNDS):
        actions = plan_registry(file, repo=repo)
        unsigned = [a.tag for a in actions if a.require_signed and not sign]
        if unsigned:  # before the first tag, so that nothing is half applied
            raise SignatureError(f"policy.require_signed: {', '.join(unsigned)} must be "
                                 "signed; apply with --sign")
        try:
            for action in actions:
                created += rules.apply(where(repo), [action], sign=sign)
            return created
        except TagExistsError:
            if attempt == _APPLY_ROUNDS - 1:
                raise
    return created  # pragma: no cover


def verify_tags(allowed_signers: str | os.PathLike[str] | None = None, *,
                all_tags: bool = False, repo: RepoArg = None) -> list[VerifyResult]:
    """Verify every stage assignment tag (``all_tags``: every registry tag) against a trust
    list in git's allowed-signers format (default: ``gpg.ssh.allowedSignersFile``)."""
    from ledger.registry.signing import verify_registry

    return verify_registry(where(repo), allowed_signers, all_tags=all_tags)
