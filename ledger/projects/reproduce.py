"""`ledger reproduce`: rerun a run from its record alone, and compare.

1. a temporary worktree at the run's source commit (``git worktree add --detach``: an entry
   under ``.git/worktrees/``, never the user's HEAD, index, work tree or branches), with the
   run's dirty patch applied to its files;
2. the run's inputs checked by digest, before anything runs: a file the commit lacks is taken
   from the user's work tree (linked, if its digest agrees) or fetched from the store when it
   was logged with ``store=True``; a changed or missing input refuses the rerun, naming it;
3. the recorded argv, run in the worktree as a new run tagged ``ledger.reproduces=<id>``;
4. every metric compared: recorded, rerun, difference; within ``atol + rtol * |recorded|``.

The worktree is removed afterwards (``keep=True`` leaves it for inspection).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInputError, ReproduceError
from ledger.runs import capture
from ledger.runs.run import Run
from ledger.store.git import git_env

if TYPE_CHECKING:
    from ledger.api import Ledger

TAG = "ledger.reproduces"
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 0.0


@dataclass(frozen=True)
class MetricCheck:
    key: str
    recorded: float | None
    rerun: float | None
    difference: float | None
    ok: bool


@dataclass
class Reproduction:
    """The outcome; ``ok`` decides the exit code (0 / 1)."""

    run_id: str
    new_run_id: str
    commit: str
    patched: bool
    exit_code: int
    metrics: list[MetricCheck] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)  # differences, for information
    worktree: str | None = None  # when kept

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and all(m.ok for m in self.metrics)

    @property
    def differs(self) -> list[str]:
        """What differs, in words: the metrics out of tolerance, a failed rerun."""
        out = [m.key for m in self.metrics if not m.ok]
        if self.exit_code != 0:
            out.append(f"exit code {self.exit_code}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "differs": self.differs}


def reproduce(lg: Ledger, run_id: str, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
              keep: bool = False) -> Reproduction:
    if not (rtol >= 0 and atol >= 0):
        raise InvalidInputError(f"tolerances must be zero or more (rtol={rtol}, atol={atol})")
    original = lg.get_run(run_id)
    commit = original.source.get("commit")
    argv = list(original.source.get("argv") or [])
    if not commit:
        raise ReproduceError(f"run {original.id} has no source commit (it was logged outside "
                             "a commit): nothing to reproduce from")
    if not argv:
        raise ReproduceError(f"run {original.id} recorded no argv: nothing to rerun")
    if lg.gitdir.work_tree is None:
        raise ReproduceError("reproduce needs a repository with a work tree")
    if _git(lg, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise ReproduceError(f"commit {commit[:12]} of run {original.id} is not in this "
                             "repository: fetch it first")
    patch = _patch(lg, original)
    holder = Path(tempfile.mkdtemp(prefix="ledger-reproduce-"))
    tree = holder / f"run-{original.id[:12]}"
    added = False
    try:
        _git_ok(lg, "worktree", "add", "--detach", "-q", str(tree), commit)
        added = True
        if patch:
            _apply(tree, patch)
        _check_inputs(lg, original, tree)
        new_id, code = _rerun(lg, original, tree, argv, patch)
        return _compare(lg, original, new_id, code, commit, bool(patch), rtol, atol,
                        str(tree) if keep else None)
    finally:
        if not keep:
            if added:
                _git(lg, "worktree", "remove", "--force", str(tree))
            shutil.rmtree(holder, ignore_errors=True)


# -- steps ---------------------------------------------------------------------------------------
def _patch(lg: Ledger, run: Run) -> bytes | None:
    name = run.source.get("patch")
    if not name:
        return None
    folder = lg.store.folder_tree(lg.store.root(lg.store.head()), run.id)
    entry = lg.store.objects.lookup(folder, str(name)) if folder else None
    if entry is None:
        raise ReproduceError(f"run {run.id} was dirty but its patch {name!r} is missing")
    return lg.store.objects.blob_bytes(entry[1])


def _apply(tree: Path, patch: bytes) -> None:
    proc = subprocess.run(["git", "-C", str(tree), "apply", "--binary", "--whitespace=nowarn",
                           "-"], input=patch, capture_output=True, env=git_env(),
                          check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReproduceError(f"the run's dirty patch does not apply to its commit: "
                             f"{reason[0] if reason else 'git apply failed'}")


def _check_inputs(lg: Ledger, run: Run, tree: Path) -> None:
    """Every input where the rerun will look for it, with its recorded digest."""
    from ledger.storage.offload import fetch_into

    work_tree = lg.gitdir.work_tree
    assert work_tree is not None
    for item in run.inputs:
        rel = Path(item["path"])
        if not rel.is_absolute() and ".." in rel.parts:  # a pulled record is not trusted (P8)
            raise ReproduceError(f"input path {item['path']!r} leaves the work tree; refusing")
        target = rel if rel.is_absolute() else tree / rel
        if not target.exists() and not rel.is_absolute():
            mine = work_tree / rel
            if mine.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(mine.resolve(), target_is_directory=mine.is_dir())
            elif item.get("stored"):
                target.parent.mkdir(parents=True, exist_ok=True)
                if not fetch_into(lg.gitdir, target, item["digest"], int(item["size"])):
                    raise ReproduceError(f"input {item['path']} is missing here and from the "
                                         "store: fetch it, or push it from where it was logged")
        if not target.exists():
            raise ReproduceError(f"input {item['path']} is missing: it was {item['digest']} "
                                 f"({item['size']} bytes)")
        found = capture.input_fingerprint(target, None)
        if found["digest"] != item["digest"]:
            raise ReproduceError(
                f"input {item['path']} changed since run {run.id[:12]}: it is now "
                f"{found['digest'][:19]}…, recorded {item['digest'][:19]}… (restore it, or "
                "log it with store=True so that reproduce can fetch it)")


def _rerun(lg: Ledger, original: Run, tree: Path, argv: list[str], patch: bytes | None
           ) -> tuple[str, int]:
    from ledger.api import Ledger as Handle
    from ledger.projects.envs import local
    from ledger.runs.execute import run_command

    here = Handle(tree, recover=False)  # same objects and refs; the source is the worktree's
    capture.seed_source(here.gitdir, str(original.source["commit"]), patch)
    if argv[0].endswith(".py"):  # a script that started its own run: sys.argv
        argv = [sys.executable, *argv]
    name = f"{original.info.run_name}-reproduce"[:250]
    env = {**local().variables, "LEDGER_REPRODUCES": original.id}
    # the rerun's output goes to stderr: stdout is for the comparison
    return run_command(here, argv, original.info.experiment, name, {TAG: original.id},
                       cwd=tree, env=env, stdout=2)


def _compare(lg: Ledger, original: Run, new_id: str, code: int, commit: str, patched: bool,
             rtol: float, atol: float, kept: str | None) -> Reproduction:
    rerun = lg.get_run(new_id)
    metrics = rerun.metrics
    if not metrics:  # the script started a run of its own, a child of the wrapping run
        children = [r for r in lg.list_runs(original.info.experiment)
                    if r.tags.get("ledger.parent_run_id") == new_id and r.metrics]
        if len(children) == 1:
            metrics = children[0].metrics
    checks = []
    for key in sorted({*original.metrics, *metrics}):
        a, b = original.metrics.get(key), metrics.get(key)
        checks.append(_check(key, a, b, rtol, atol))
    return Reproduction(original.id, new_id, commit, patched, code, checks,
                        _environment(lg, original, rerun), kept)


def _check(key: str, a: float | None, b: float | None, rtol: float, atol: float
           ) -> MetricCheck:
    if a is None or b is None:
        return MetricCheck(key, a, b, None, False)
    if math.isnan(a) or math.isnan(b):
        return MetricCheck(key, a, b, None, math.isnan(a) and math.isnan(b))
    if math.isinf(a) or math.isinf(b):
        return MetricCheck(key, a, b, None, a == b)
    return MetricCheck(key, a, b, b - a, abs(b - a) <= atol + rtol * abs(a))


def _environment(lg: Ledger, original: Run, rerun: Run) -> list[str]:
    out = []
    for key in ("python", "implementation", "platform", "machine"):
        a, b = original.environment.get(key), rerun.environment.get(key)
        if a != b:
            out.append(f"{key}: {a} -> {b}")
    before, after = _packages(lg, original), _packages(lg, rerun)
    if before is not None and after is not None:
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                out.append(f"package {name}: {before.get(name)} -> {after.get(name)}")
    return out


def _packages(lg: Ledger, run: Run) -> dict[str, str] | None:
    name = run.environment.get("packages")
    folder = lg.store.folder_tree(lg.store.root(lg.store.head()), run.id)
    entry = lg.store.objects.lookup(folder, str(name)) if folder and name else None
    if entry is None:
        return None
    found = json.loads(lg.store.objects.blob_bytes(entry[1]))
    return found if isinstance(found, dict) else None


def _git(lg: Ledger, *args: str) -> subprocess.CompletedProcess[bytes]:
    where = lg.gitdir.work_tree or lg.gitdir.git_dir
    return subprocess.run(["git", "-C", str(where), "-c", "core.hooksPath=/dev/null", *args],
                          capture_output=True, env=git_env(), check=False)


def _git_ok(lg: Ledger, *args: str) -> None:
    proc = _git(lg, *args)
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReproduceError(f"git {args[0]} {args[1]} failed: "
                             f"{reason[-1] if reason else proc.returncode}")
