"""Signed promotions through the CLI, with ssh keys made by ssh-keygen in the test, and
`ledger verify` failing by name on unsigned, untrusted and renamed tags."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git
from tests.registry.model_runs import fails, ledger, log_run, ok

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None,
                                reason="ssh-keygen is not installed")


def keypair(tmp_path: Path, who: str) -> Path:
    key = tmp_path / f"{who}_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)],
                   check=True)
    return key


def trust(path: Path, *keys: Path) -> Path:
    lines = []
    for key in keys:
        kind, blob = key.with_suffix(".pub").read_text().split()[:2]
        lines.append(f"alice@example.com {kind} {blob}\n")
    path.write_text("".join(lines))
    return path


def sign_with(repo: Path, key: Path) -> None:
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key.with_suffix(".pub")))


@pytest.fixture
def signed(repo: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, Path]]:
    """iris@v0.0.1 promoted to production with alice's key; the list trusts alice only."""
    keys = {who: keypair(tmp_path, who) for who in ("alice", "mallory")}
    sign_with(repo, keys["alice"])
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    assert ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "production", "--sign")) \
        == "iris#production#1"
    return repo, trust(tmp_path / "allowed_signers", keys["alice"]), keys


def test_a_signed_promotion_verifies_with_git_and_ledger(signed) -> None:
    repo, allowed, _ = signed
    checked = git(repo, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-tag",
                  "iris#production#1", check=False)
    assert checked.returncode == 0, checked.stderr
    assert 'Good "git" signature for alice@example.com' in checked.stderr
    result = ledger(repo, "verify", "--allowed-signers", str(allowed))
    assert result.code == 0, result.out + result.err
    assert result.out.strip() == "1 registry tags verified"
    shown = git(repo, "tag", "-l", "--format=%(contents:signature)", "iris#production#1").stdout
    assert "BEGIN SSH SIGNATURE" in shown
    # the allowed-signers file may come from git's own configuration too
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    assert ledger(repo, "verify").code == 0


def test_unsigned_untrusted_and_renamed_tags_each_fail_by_name(signed) -> None:
    repo, allowed, keys = signed
    # an unsigned assignment
    assert ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "staging", "--no-sign")) \
        == "iris#staging#2"
    result = ledger(repo, "verify", "--allowed-signers", str(allowed))
    fails(result, "iris#staging#2: FAILED: unsigned", "1 of 2 registry tags failed")
    assert result.out.strip().splitlines() == ["iris#staging#2: FAILED: unsigned"]
    # signed by a key outside the list
    sign_with(repo, keys["mallory"])
    ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "canary", "--sign"))
    # alice's signed production tag, re-published under another name
    obj = git(repo, "rev-parse", "iris#production#1").stdout.strip()
    git(repo, "update-ref", "refs/tags/iris#production#9", obj)
    result = ledger(repo, "verify", "--allowed-signers", str(allowed))
    fails(result, "3 of 4 registry tags failed")
    failed = {line.split(": ", 1)[0]: line for line in result.out.strip().splitlines()}
    assert set(failed) == {"iris#staging#2", "iris#canary#3", "iris#production#9"}
    assert "untrusted" in failed["iris#canary#3"]
    assert "renamed" in failed["iris#production#9"]
    assert not any(line.startswith("iris#production#1:") for line in result.out.splitlines())
    # git agrees about the untrusted key
    assert git(repo, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-tag",
               "iris#canary#3", check=False).returncode != 0


def test_verify_all_includes_version_tags(signed) -> None:
    repo, allowed, _ = signed
    result = ledger(repo, "verify", "--allowed-signers", str(allowed), "--all")
    fails(result, "iris@v0.0.1: FAILED: unsigned")
    rid = ok(ledger(repo, "log", "-a", str(Path(allowed))))
    ok(ledger(repo, "model", "register", "signed", "--run", rid, "--sign"))
    result = ledger(repo, "verify", "--allowed-signers", str(allowed), "--all")
    assert "signed@v0.0.1" not in result.out
    fails(ledger(repo, "verify", "--allowed-signers", str(allowed.parent / "missing")),
          "not found")


def test_sign_without_a_usable_key_creates_nothing(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(tmp_path / "no-such-key.pub"))
    fails(ledger(repo, "model", "promote", "iris", "v0.0.1", "prod", "--sign"), "could not sign")
    assert git(repo, "tag", "-l", "iris#*").stdout == ""
