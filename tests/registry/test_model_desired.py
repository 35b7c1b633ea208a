"""The reviewed desired state through the CLI: `ledger registry check|plan|apply` on
ledger.toml, and the pre-commit hook `ledger-registry-check` run by pre-commit itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, git
from tests.registry.model_runs import as_json, fails, ledger, log_run, ok, refs

POLICY = """
[policy]
stages = ["staging", "production"]

[policy.thresholds]
production = ["metrics.acc >= 0.9"]
"""


@pytest.fixture
def two_versions(repo: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """iris v0.0.1 from a run with acc 0.95, v0.0.2 from one with acc 0.8."""
    good = log_run(repo, tmp_path, 0.95)
    poor = log_run(repo, tmp_path, 0.8)
    ok(ledger(repo, "model", "register", "iris", "--run", good, "--path", "model"))
    ok(ledger(repo, "model", "register", "iris", "--run", poor, "--path", "model"))
    return repo, good, poor


def desire(repo: Path, **stages: str) -> None:
    table = "".join(f'{stage} = "{version}"\n' for stage, version in stages.items())
    (repo / "ledger.toml").write_text(POLICY + "\n[registry.iris]\n" + table)


def test_check_names_each_broken_rule(two_versions: tuple[Path, str, str]) -> None:
    repo, _, poor = two_versions
    desire(repo, staging="v9.9.9")
    fails(ledger(repo, "registry", "check"),
          "iris: staging = v9.9.9, but iris@v9.9.9 is not registered", "ledger.toml: 1 problem")
    desire(repo, production="v0.0.1")
    fails(ledger(repo, "registry", "check"), "v0.0.1 was never in staging")
    ok(ledger(repo, "model", "promote", "iris", "v0.0.2", "staging"))
    desire(repo, staging="v0.0.2", production="v0.0.2")
    fails(ledger(repo, "registry", "check"),
          f"iris: production = v0.0.2 needs metrics.acc >= 0.9, but run {poor} has acc = 0.8")
    (repo / "ledger.toml").write_text('[registry.iris]\nstaging = "latest"\n')
    fails(ledger(repo, "registry", "check"), "ledger.toml: registry.iris.staging")
    (repo / "ledger.toml").write_text("[registry.iris\n")
    fails(ledger(repo, "registry", "check"), "invalid TOML")
    # apply refuses a file that fails its check, and writes nothing
    desire(repo, staging="v0.0.2", production="v0.0.2")
    before = refs(repo)
    fails(ledger(repo, "registry", "apply"), "needs metrics.acc >= 0.9", "nothing applied")
    assert refs(repo) == before


def test_apply_creates_exactly_the_needed_tags_once(two_versions: tuple[Path, str, str]) -> None:
    repo, _, _ = two_versions
    desire(repo, staging="v0.0.1")
    assert ok(ledger(repo, "registry", "check")) == "ledger.toml: ok"
    planned = as_json(ledger(repo, "registry", "plan", "--format", "json"))
    assert [(p["tag"], p["version"]) for p in planned] == [("iris#staging#1", "v0.0.1")]
    result = ledger(repo, "registry", "apply")
    assert ok(result) == "iris#staging#1"
    again = ledger(repo, "registry", "apply")
    assert ok(again) == "" and "nothing to apply" in again.err
    assert as_json(ledger(repo, "registry", "plan", "--format", "json")) == []
    desire(repo, staging="v0.0.1", production="v0.0.1")
    ok(ledger(repo, "registry", "check"))
    assert ok(ledger(repo, "registry", "apply")) == "iris#production#2"
    tags_after = refs(repo)
    assert ok(ledger(repo, "registry", "apply")) == ""
    assert refs(repo) == tags_after
    shown = as_json(ledger(repo, "model", "show", "iris@v0.0.1", "--format", "json"))
    assert shown[0]["stages"] == ["production", "staging"]
    message = git(repo, "tag", "-l", "--format=%(contents)", "iris#production#2").stdout
    assert "desired state from ledger.toml" in message


def test_file_option_and_bare_repository(two_versions: tuple[Path, str, str],
                                         tmp_path: Path) -> None:
    repo, _, _ = two_versions
    other = tmp_path / "elsewhere.toml"
    other.write_text('[registry.iris]\nstaging = "v0.0.2"\n')
    assert ok(ledger(repo, "registry", "check", "--file", str(other))) == "elsewhere.toml: ok"
    fails(ledger(repo, "registry", "check"), "ledger.toml")  # the default file is missing
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    fails(ledger(repo, "registry", "check", "--repo", str(bare)), "bare repository")


def test_require_signed_refuses_to_apply_unsigned(two_versions: tuple[Path, str, str]) -> None:
    repo, _, _ = two_versions
    (repo / "ledger.toml").write_text('[policy]\nrequire_signed = true\n'
                                      '[registry.iris]\nstaging = "v0.0.1"\n')
    before = refs(repo)
    fails(ledger(repo, "registry", "apply"), "must be signed")
    assert refs(repo) == before


def pre_commit() -> str:
    found = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or \
        shutil.which("pre-commit")
    if found is None:
        pytest.skip("pre-commit is not installed")
    return found


def test_pre_commit_hook_runs_registry_check(two_versions: tuple[Path, str, str],
                                             tmp_path: Path) -> None:
    repo, _, _ = two_versions
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "PIP_NO_INDEX": "1",  # offline: nothing may be downloaded
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if git(ROOT, "rev-parse", "--git-dir", check=False).returncode != 0:
        pytest.skip("this checkout is not a git repository: pre-commit try-repo needs one")

    def run_hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit(), "try-repo", str(ROOT),
                               "ledger-registry-check", "--all-files"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    desire(repo, staging="v0.0.1")
    git(repo, "add", "ledger.toml")
    passed = run_hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "ledger registry check" in passed.stdout and "Passed" in passed.stdout
    desire(repo, production="v0.0.2")
    git(repo, "add", "ledger.toml")
    failed = run_hook()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert "v0.0.2 was never in staging" in failed.stdout
    assert "needs metrics.acc >= 0.9" in failed.stdout


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_the_readme_ci_recipe(two_versions: tuple[Path, str, str], tmp_path: Path) -> None:
    """apply --sign with a private key file, push the printed tags three at a time, verify."""
    repo, _, _ = two_versions
    key = tmp_path / "ci_signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)],
                   check=True)
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"registry-bot@example.com {kind} {blob}\n")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key))
    (repo / "ledger.toml").write_text(
        POLICY.replace("[policy]", "[policy]\nrequire_signed = true")
        + '[registry.iris]\nstaging = "v0.0.1"\n')
    created = ok(ledger(repo, "registry", "apply", "--sign"))
    assert created == "iris#staging#1"
    (repo / "created-tags.txt").write_text(created + "\n")
    subprocess.run("sed 's|^|refs/tags/|' created-tags.txt | xargs -r -n 3 git push -q origin",
                   shell=True, cwd=repo, check=True, capture_output=True)
    assert git(origin, "tag", "-l").stdout.split() == ["iris#staging#1"]
    verified = ledger(repo, "verify", "--allowed-signers", str(allowed))
    assert verified.code == 0, verified.out + verified.err
