"""Installed from a wheel (not an editable checkout), the package has everything it needs at
run time: the demo runs, `ledger init --hooks` installs an executable hook that pushes the
ledger along with `git push`, and the JSON Schemas load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, make_repo


def clean_checkout(dest: Path) -> Path:
    """The files git tracks, as they are in the work tree (what a fresh clone would hold, plus
    uncommitted edits, so that the test checks the code being changed)."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from a clean checkout; returns its bin/."""
    base = tmp_path_factory.mktemp("wheel")
    src = clean_checkout(base / "src")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # build isolation: the build backend pyproject.toml asks for, whatever this venv has
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(base / "dist"), str(src)],
                   check=True, env=env, capture_output=True)
    wheels = list((base / "dist").glob("ledger-*.whl"))
    assert len(wheels) == 1, wheels
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    bin_dir = base / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheels[0])], check=True,
                   env=env, capture_output=True)
    return bin_dir


def outside_env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.slow
def test_the_wheel_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo.py"
    shutil.copy(ROOT / "examples" / "demo.py", demo)
    proc = subprocess.run([str(installed / "python"), str(demo)], cwd=tmp_path,
                          env=outside_env(installed), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    where = subprocess.run([str(installed / "python"), "-c",
                            "import ledger, sys; sys.stdout.write(ledger.__file__)"],
                           cwd=tmp_path, env=outside_env(installed), capture_output=True,
                           text=True, check=True).stdout
    assert "site-packages" in where and not where.startswith(str(ROOT))


@pytest.mark.slow
def test_the_wheel_installs_hooks_that_push_the_ledger(installed: Path, tmp_path: Path) -> None:
    env = outside_env(installed)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo = make_repo(tmp_path / "work")
    git(repo, "remote", "add", "origin", str(remote))

    def ledger(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(installed / "ledger"), *args], cwd=repo, env=env,
                              capture_output=True, text=True)

    done = ledger("init", "--hooks")
    assert done.returncode == 0, done.stderr
    hook = repo / ".git" / "hooks" / "pre-push"
    assert os.access(hook, os.X_OK)
    assert hook.read_bytes() == (ROOT / "hooks" / "pre-push").read_bytes()
    assert ledger("log", "-p", "lr=0.1", "-m", "acc=0.9").returncode == 0
    subprocess.run(["git", "-C", str(repo), "push", "-q", "origin", "main"], env=env,
                   check=True, capture_output=True)
    pushed = git(remote, "for-each-ref", "refs/ledger/").stdout
    assert "refs/ledger/runs" in pushed
    # the schemas ship too: a registry check validates ledger.toml against its JSON Schema
    (repo / "ledger.toml").write_text('[registry.iris]\nproduction = 3\n')
    checked = ledger("registry", "check")
    assert checked.returncode == 1 and "is not of type 'string'" in checked.stdout, checked
