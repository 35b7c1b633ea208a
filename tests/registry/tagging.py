"""Registry tags on real commits: commit, register, assign, and ssh signing set-up.

`git_ok` runs the real git, asserts success and returns its stdout stripped (the root
conftest's `git` returns the CompletedProcess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.registry.signing import create_tag
from ledger.registry.tags import assignment_tag, version_tag

GTO = shutil.which("gto", path=str(Path(sys.executable).parent)) or shutil.which("gto")
needs_gto = pytest.mark.skipif(GTO is None, reason="gto is not installed (pip install gto)")


def gto(repo: Path, *args: str) -> str:
    """Run GTO's command line in `repo`, assert success, return its stdout."""
    assert GTO is not None
    proc = subprocess.run([GTO, *args], cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"gto {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def git_ok(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def commit(repo: Path, message: str = "model") -> str:
    git_ok(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git_ok(repo, "rev-parse", "HEAD")


def register(repo: Path, model: str, version: str, run: str | None = None) -> str:
    """Register a version on a fresh commit; returns the commit."""
    sha = commit(repo, f"{model} {version}")
    message = f"Registering {model} {version}\n" + (f"\nrun: {run}\n" if run else "")
    create_tag(repo, version_tag(model, version), sha, message)
    return sha


def assign(repo: Path, model: str, stage: str, commit_sha: str, counter: int, **kw: bool) -> str:
    name = assignment_tag(model, stage, counter)
    create_tag(repo, name, commit_sha, f"assign {stage}", **kw)
    return name


def allowed_signers(path: Path, key: Path, options: str = "") -> Path:
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    principal = "alice@example.com"
    path.write_text(f"{principal} {options + ' ' if options else ''}{kind} {blob}\n")
    return path


def use_ssh_signing(repo: Path, key: Path) -> None:
    git_ok(repo, "config", "gpg.format", "ssh")
    git_ok(repo, "config", "user.signingkey", str(key.with_suffix(".pub")))
