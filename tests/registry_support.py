"""Shared helpers of the registry tests: isolated git, real repos, real keys."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.registry.signing import create_tag
from ledger.registry.tags import assignment_tag, version_tag


@pytest.fixture(autouse=True, name="isolated_git")
def isolated_git_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME and global git config of the test's own (libgit2, used by gto, reads HOME)."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Alice\n\temail = alice@example.com\n"
        "[init]\n\tdefaultBranch = main\n[tag]\n\tgpgSign = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMITTER_DATE", "GNUPGHOME"):
        monkeypatch.delenv(var, raising=False)
    return home


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
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


@pytest.fixture(name="repo")
def repo_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    git(path, "commit", "-q", "--allow-empty", "-m", "init")
    return path


def commit(repo: Path, message: str = "model") -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


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


@pytest.fixture(name="ssh_keys")
def ssh_keys_fixture(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Two ed25519 key pairs made for the test: alice (trusted) and mallory."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    keys = {}
    for who in ("alice", "mallory"):
        key = tmp_path / f"{who}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)],
            check=True,
        )
        keys[who] = key
    yield keys


def allowed_signers(path: Path, key: Path, options: str = "") -> Path:
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    principal = "alice@example.com"
    path.write_text(f"{principal} {options + ' ' if options else ''}{kind} {blob}\n")
    return path


def use_ssh_signing(repo: Path, key: Path) -> None:
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key.with_suffix(".pub")))
