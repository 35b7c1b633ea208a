"""Signing with the user's own git setup, and verification against a trust list."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.errors import RegistryError, SignatureError, TagExistsError
from ledger.registry.signing import VerifyResult, create_tag, verify_tags
from ledger.registry.tagrefs import read_tag_records
from tests.registry.tagging import (
    allowed_signers,
    assign,
    git_ok,
    register,
    use_ssh_signing,
)


@pytest.fixture
def signed_repo(repo: Path, ssh_keys: dict[str, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A repo with iris v1.0.0, signed (alice) as iris#staging#1; and alice's allowed list."""
    use_ssh_signing(repo, ssh_keys["alice"])
    c1 = register(repo, "iris", "v1.0.0")
    assign(repo, "iris", "staging", c1, 1, sign=True)
    return repo, allowed_signers(tmp_path / "allowed_signers", ssh_keys["alice"])


def only(results: list[VerifyResult]) -> VerifyResult:
    assert len(results) == 1
    return results[0]


def test_ssh_signed_assignment_verifies(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    result = only(verify_tags(repo, ["iris#staging#1"], allowed))
    assert result.ok, result.reason
    assert (result.tag, result.signature_format, result.signer) == (
        "iris#staging#1",
        "ssh",
        "alice@example.com",
    )
    assert result.key is not None and result.key.startswith("SHA256:")
    assert str(result).startswith("iris#staging#1: verified")
    # git itself agrees
    git_ok(repo, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-tag", "iris#staging#1")
    # and the reader sees the signature
    (rec,) = [r for r in read_tag_records(repo) if r.name == "iris#staging#1"]
    assert rec.signed and rec.signature_format == "ssh"
    assert "SSH SIGNATURE" not in rec.message


def test_allowed_signers_default_to_the_git_config(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    assert "allowed-signers" in only(verify_tags(repo, ["iris#staging#1"])).reason
    git_ok(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    assert only(verify_tags(repo, ["iris#staging#1"])).ok


def test_unsigned_tag_fails(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    result = only(verify_tags(repo, ["iris@v1.0.0"], allowed))
    assert not result.ok
    assert str(result) == "iris@v1.0.0: FAILED: unsigned"


def test_untrusted_key_fails(signed_repo: tuple[Path, Path], ssh_keys: dict[str, Path]) -> None:
    repo, allowed = signed_repo
    git_ok(repo, "config", "user.signingkey", str(ssh_keys["mallory"].with_suffix(".pub")))
    c2 = register(repo, "iris", "v1.1.0")
    assign(repo, "iris", "production", c2, 2, sign=True)
    result = only(verify_tags(repo, ["iris#production#2"], allowed))
    assert not result.ok
    assert result.tag == "iris#production#2"
    assert "untrusted" in result.reason and "not in the allowed-signers file" in result.reason
    assert result.key is not None and result.key in result.reason


def test_revoked_key_fails(signed_repo: tuple[Path, Path], ssh_keys: dict[str, Path]) -> None:
    repo, allowed = signed_repo
    pub = ssh_keys["alice"].with_suffix(".pub")
    listed = pub.parent / "revoked_keys"
    listed.write_text(pub.read_text())
    result = only(verify_tags(repo, ["iris#staging#1"], allowed, revocation_file=listed))
    assert not result.ok and "revoked" in result.reason
    # a binary KRL: ssh-keygen decides, the reason still says the tag failed
    krl = pub.parent / "revoked.krl"
    subprocess.run(["ssh-keygen", "-q", "-k", "-f", str(krl), str(pub)], check=True)
    result = only(verify_tags(repo, ["iris#staging#1"], allowed, revocation_file=krl))
    assert not result.ok and "revoked" in result.reason
    # git's own config is honoured too
    git_ok(repo, "config", "gpg.ssh.revocationFile", str(krl))
    assert not only(verify_tags(repo, ["iris#staging#1"], allowed)).ok


def test_expiry_window(signed_repo: tuple[Path, Path], ssh_keys: dict[str, Path]) -> None:
    repo, _ = signed_repo
    key = ssh_keys["alice"]
    expired = allowed_signers(key.parent / "expired", key, 'valid-before="20200101"')
    result = only(verify_tags(repo, ["iris#staging#1"], expired))
    assert not result.ok and "expired" in result.reason
    future = allowed_signers(key.parent / "future", key, 'valid-after="20990101"')
    result = only(verify_tags(repo, ["iris#staging#1"], future))
    assert not result.ok and "not yet valid" in result.reason
    window = allowed_signers(
        key.parent / "window", key, 'valid-after="20200101",valid-before="20990101"'
    )
    assert only(verify_tags(repo, ["iris#staging#1"], window)).ok


def test_renamed_tag_fails(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    obj = git_ok(repo, "rev-parse", "refs/tags/iris#staging#1")
    git_ok(repo, "update-ref", "refs/tags/iris#production#2", obj)
    results = verify_tags(repo, ["iris#staging#1", "iris#production#2"], allowed)
    assert [r.ok for r in results] == [True, False]
    assert results[1].tag == "iris#production#2"
    assert "renamed" in results[1].reason and "'iris#staging#1'" in results[1].reason


def test_altered_tag_fails(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    raw = git_ok(repo, "cat-file", "tag", "iris#staging#1") + "\n"
    forged = raw.replace("assign staging", "assign staging (edited)")
    sha = subprocess.run(
        ["git", "-C", str(repo), "mktag"], input=forged, capture_output=True, text=True, check=True
    ).stdout.strip()
    git_ok(repo, "update-ref", "-d", "refs/tags/iris#staging#1")
    git_ok(repo, "update-ref", "refs/tags/iris#staging#1", sha)
    result = only(verify_tags(repo, ["iris#staging#1"], allowed))
    assert not result.ok and "bad or rejected signature" in result.reason


def test_lightweight_and_missing_tags_fail(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    git_ok(repo, "tag", "iris#light#5")
    light, missing = verify_tags(repo, ["iris#light#5", "iris#nope#6"], allowed)
    assert not light.ok and "lightweight" in light.reason
    assert not missing.ok and missing.reason == "no such tag"


def test_missing_allowed_signers_file_is_an_error(signed_repo: tuple[Path, Path]) -> None:
    repo, allowed = signed_repo
    with pytest.raises(RegistryError, match="allowedSignersFile not found"):
        verify_tags(repo, ["iris#staging#1"], allowed.parent / "nope")


def test_create_tag_refuses_to_overwrite(signed_repo: tuple[Path, Path]) -> None:
    repo, _ = signed_repo
    before = git_ok(repo, "rev-parse", "refs/tags/iris#staging#1")
    with pytest.raises(TagExistsError, match="iris#staging#1 exists already"):
        create_tag(repo, "iris#staging#1", "HEAD", "again", sign=True)
    assert git_ok(repo, "rev-parse", "refs/tags/iris#staging#1") == before


def test_create_tag_reports_signing_failures(repo: Path) -> None:
    git_ok(repo, "config", "gpg.format", "ssh")
    git_ok(repo, "config", "user.signingkey", str(repo / "no-such-key.pub"))
    with pytest.raises(SignatureError, match="could not sign tag iris#prod#1"):
        create_tag(repo, "iris#prod#1", "HEAD", "assign", sign=True)
    assert git_ok(repo, "tag", "--list") == ""


def test_create_tag_refuses_bad_names_and_commits(repo: Path) -> None:
    with pytest.raises(RegistryError, match="invalid tag name"):
        create_tag(repo, "bad..name", "HEAD", "x")
    with pytest.raises(RegistryError, match="no commit"):
        create_tag(repo, "iris#prod#1", "0" * 40, "x")


# --- openpgp ----------------------------------------------------------------------------


@pytest.fixture
def gnupg(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))  # short: agent socket path limit
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def _gpg(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *args],
        input=stdin,
        capture_output=True,
        check=True,
    ).stdout


def _new_key(uid: str) -> str:
    _gpg("--quick-gen-key", uid, "ed25519", "sign", "never")
    out = _gpg("--list-keys", "--with-colons", uid).decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def test_openpgp_trusted_key_and_fingerprint_list(repo: Path, gnupg: Path) -> None:
    alice = _new_key("Alice <alice@example.com>")  # own key: ultimately trusted
    git_ok(repo, "config", "user.signingkey", alice)
    c1 = register(repo, "iris", "v1.0.0")
    assign(repo, "iris", "production", c1, 1, sign=True)
    result = only(verify_tags(repo, ["iris#production#1"]))
    assert result.ok, result.reason
    assert (result.signature_format, result.key) == ("openpgp", alice)
    assert only(verify_tags(repo, ["iris#production#1"], openpgp_fingerprints=[alice])).ok
    other = only(verify_tags(repo, ["iris#production#1"], openpgp_fingerprints=["AB" * 20]))
    assert not other.ok and "not in the list of allowed fingerprints" in other.reason


def test_openpgp_key_without_trust_fails(repo: Path, gnupg: Path) -> None:
    bob = _new_key("Bob <bob@example.com>")
    secret = _gpg("--export-secret-keys", "--armor", bob)
    _gpg("--yes", "--delete-secret-and-public-key", bob)
    _gpg("--import", stdin=secret)  # imported, not generated here: no ownertrust
    git_ok(repo, "config", "user.signingkey", bob)
    c1 = register(repo, "iris", "v1.0.0")
    assign(repo, "iris", "production", c1, 1, sign=True)
    result = only(verify_tags(repo, ["iris#production#1"]))
    assert not result.ok and "untrusted" in result.reason, result.reason
    # with the bar lowered, git's default, the same tag passes: the trust level is explicit
    assert only(verify_tags(repo, ["iris#production#1"], min_trust="undefined")).ok


def test_verify_registry_checks_every_assignment(signed_repo: tuple[Path, Path]) -> None:
    from ledger.registry.signing import verify_registry

    repo, allowed = signed_repo
    c1 = git_ok(repo, "rev-parse", "iris@v1.0.0^{commit}")
    assign(repo, "iris", "production", c1, 2)  # unsigned
    git_ok(repo, "tag", "iris#dev#3", c1)  # lightweight
    results = verify_registry(repo, allowed)
    assert [(r.tag, r.ok) for r in results] == [
        ("iris#dev#3", False),
        ("iris#production#2", False),
        ("iris#staging#1", True),
    ]
    everything = verify_registry(repo, allowed, all_tags=True)
    assert [r.tag for r in everything if not r.ok] == [
        "iris#dev#3",
        "iris#production#2",
        "iris@v1.0.0",
    ]
