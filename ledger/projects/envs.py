"""Environments a project runs in: ``local`` (this interpreter), ``virtualenv``, ``uv``, ``conda``.

An environment is created once and cached by the digest of what defines it (the manager, the
environment file's bytes, this interpreter's version), under the user's cache folder
(``$LEDGER_CACHE_DIR``, else ``$XDG_CACHE_HOME/ledger``, else ``~/.cache/ledger``). A lock file
makes concurrent runs wait for one creation; a marker written last tells a finished
environment from one whose creation died half-way (that one is rebuilt).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError, ReproduceError

MANAGERS = ("local", "virtualenv", "uv", "conda")
READY = ".ledger-ready"


@dataclass(frozen=True)
class Environment:
    manager: str
    prefix: Path | None = None  # the environment's folder; None for local
    variables: dict[str, str] = field(default_factory=dict)

    def argv(self, command: str) -> list[str]:
        """How to run a shell command in this environment."""
        if self.manager == "conda":
            assert self.prefix is not None
            return [_tool("conda"), "run", "--no-capture-output", "-p", str(self.prefix),
                    "sh", "-c", command]
        return ["sh", "-c", command]


def cache_root() -> Path:
    base = os.environ.get("LEDGER_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ledger"


def local() -> Environment:
    """This interpreter first on PATH, so that ``python`` in a command is the one running."""
    bindir = os.path.dirname(sys.executable)
    return Environment("local", None, {"PATH": bindir + os.pathsep + os.environ.get("PATH", "")})


def prepare(manager: str, python_env: Path | None, conda_env: Path | None) -> Environment:
    """The environment for a project, created now unless the cache has it."""
    if manager not in MANAGERS:
        raise InvalidInputError(f"unknown env manager {manager!r} (one of {', '.join(MANAGERS)})")
    if manager == "local":
        return local()
    spec = conda_env if manager == "conda" else python_env
    if spec is None:
        wanted = "conda_env" if manager == "conda" else "python_env"
        raise ReproduceError(f"--env-manager {manager} needs the project to declare {wanted} "
                             "in its MLproject (or use --env-manager local)")
    digest = hashlib.sha256(b"\0".join([manager.encode(), spec.read_bytes(),
                                        sys.version.encode()])).hexdigest()[:20]
    prefix = cache_root() / "envs" / f"{manager}-{digest}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.with_name(prefix.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator; the others wait, then reuse
        if not (prefix / READY).is_file():
            shutil.rmtree(prefix, ignore_errors=True)
            _create(manager, prefix, spec)
            (prefix / READY).write_text(spec.name + "\n")
    if manager == "conda":
        return Environment(manager, prefix)
    path = f"{prefix / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return Environment(manager, prefix, {"PATH": path, "VIRTUAL_ENV": str(prefix)})


def _create(manager: str, prefix: Path, spec: Path) -> None:
    if manager == "conda":
        _call([_tool("conda"), "env", "create", "-q", "-p", str(prefix), "-f", str(spec)])
        return
    doc = _python_env(spec)
    version = str(doc.get("python") or "")
    deps = [str(d) for d in (doc.get("build_dependencies") or [])] + \
           [str(d) for d in (doc.get("dependencies") or [])]
    if manager == "uv":
        _call([_tool("uv"), "venv", "-q", *(["--python", version] if version else []),
               str(prefix)])
        if deps:
            _call([_tool("uv"), "pip", "install", "-q", "--python", str(prefix / "bin" / "python"),
                   *deps])
        return
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version and not (version == here or version.startswith(here + ".")):
        raise ReproduceError(
            f"{spec.name} asks for Python {version} and this is Python {here}: use "
            "--env-manager uv (which fetches interpreters) or run under that Python")
    _call([sys.executable, "-m", "venv", *([] if deps else ["--without-pip"]), str(prefix)])
    if deps:
        _call([str(prefix / "bin" / "python"), "-m", "pip", "install", "-q", *deps])


def _python_env(spec: Path) -> dict[str, Any]:
    from ledger.projects.mlproject import read_yaml

    return read_yaml(spec)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ReproduceError(f"--env-manager {name} needs {name} on PATH")
    return found


def _call(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        raise ReproduceError(f"creating the environment failed: {' '.join(argv[:3])} …: "
                             f"{last[-1] if last else f'exit code {proc.returncode}'}")
