"""`ledger run`: an MLflow Project as one run, its parameters logged as params.

The project is a folder or a git URL (cloned into a temporary folder, ``URL#subdir`` for a
project below the root, ``version`` for a branch, tag or commit). Everything is checked (the
entry point, every parameter against its type, the environment) before the run is created,
so a bad value writes nothing. The run records, as its argv, a command that reruns it from
the root of the work tree, so that `ledger reproduce` can replay it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import ReproduceError
from ledger.projects import envs, mlproject

if TYPE_CHECKING:
    from ledger.api import Ledger


@dataclass(frozen=True)
class ProjectRun:
    run_id: str
    exit_code: int
    command: str
    env_manager: str
    params: dict[str, str]


def is_git_url(uri: str) -> bool:
    return uri.startswith(("git@", "git+", "git://", "ssh://")) or (
        "://" in uri and (uri.endswith(".git") or "#" in uri or "github.com" in uri
                          or uri.startswith("file://")))


def run_project(lg: Ledger, uri: str = ".", entry_point: str = "main",
                params: dict[str, str] | None = None, env_manager: str = "local",
                experiment: str | None = None, name: str | None = None,
                version: str | None = None) -> ProjectRun:
    """Run the entry point of the project at ``uri`` as a new run; returns its id and the
    command's exit code (0: FINISHED)."""
    given = dict(params or {})
    clone: Path | None = None
    try:
        if is_git_url(uri):
            clone = Path(tempfile.mkdtemp(prefix="ledger-project-"))
            root = _clone(uri, version, clone)
        else:
            if version:
                raise ReproduceError("--version applies to a git URL; check out the version "
                                     "of a local project yourself")
            root = Path(uri)
        project = mlproject.load(root)
        entry = project.entry_point(entry_point)
        values, command = entry.resolve(given, Path.cwd())
        env = envs.prepare(env_manager, project.python_env, project.conda_env)
        tags = {"ledger.project.name": project.name, "ledger.project.entry_point": entry.name,
                "ledger.project.env_manager": env_manager,
                "ledger.project.uri": uri if clone else str(project.root)}
        rid, code = _execute(lg, project.root, command, env, values, tags, experiment, name,
                             recorded=None if clone else _recorded(lg, project.root, command))
        return ProjectRun(rid, code, command, env_manager, values)
    finally:
        if clone is not None:
            shutil.rmtree(clone, ignore_errors=True)


def _execute(lg: Ledger, root: Path, command: str, env: envs.Environment,
             values: dict[str, str], tags: dict[str, str], experiment: str | None,
             name: str | None, recorded: list[str] | None) -> tuple[str, int]:
    from ledger.runs.execute import run_command

    return run_command(lg, env.argv(command), experiment, name, tags, params=values,
                       cwd=root, env=env.variables, record_argv=recorded)


def _recorded(lg: Ledger, root: Path, command: str) -> list[str] | None:
    """The argv that reruns the command from the root of the work tree."""
    work_tree = lg.gitdir.work_tree
    if work_tree is None:
        return None
    try:
        rel = root.resolve().relative_to(work_tree.resolve()).as_posix()
    except ValueError:
        return None
    return ["sh", "-c", command if rel == "." else f"cd {shlex.quote(rel)} && {command}"]


def _clone(uri: str, version: str | None, into: Path) -> Path:
    url, _, subdir = uri.partition("#")
    url = url[len("git+"):] if url.startswith("git+") else url
    args = ["git", "clone", "-q", *([] if version else ["--depth", "1"]), url, str(into)]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 0 and version:
        proc = subprocess.run(["git", "-C", str(into), "checkout", "-q", version],
                              capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()
        raise ReproduceError(f"cannot fetch the project {uri}: "
                             f"{last[-1] if last else 'git clone failed'}")
    root = (into / subdir).resolve() if subdir else into
    if into.resolve() not in (root, *root.parents):
        raise ReproduceError(f"project subfolder {subdir!r} leaves the repository")
    return root
