"""Create registry tags with the user's own git signing setup, and verify them.

Creating: ``git tag -a [-s] NAME COMMIT`` with the message on stdin, so git signs with
``gpg.format`` (openpgp or ssh) and ``user.signingkey`` exactly as ``git tag -s`` would. An
existing tag is never overwritten.

Verifying (:func:`verify_tags`) fails a tag, naming the reason, when

* it is lightweight or unsigned (an unsigned tag is never "verified");
* the name written inside the tag object differs from the ref it is published under (a
  signed tag re-published under another name, e.g. a staging assignment pushed as production);
* **ssh**: ``git verify-tag`` rejects it against the allowed-signers file (git's
  ``gpg.ssh.allowedSignersFile`` format): key not listed, listed for other namespaces, revoked
  (``gpg.ssh.revocationFile``), or outside its ``valid-after``/``valid-before`` window. As in
  git, that window is checked at the tag's own tagger date;
* **openpgp**: ``git verify-tag`` rejects it with ``gpg.minTrustLevel`` (default ``fully``:
  only keys the keyring trusts fully or ultimately pass), or, when ``openpgp_fingerprints``
  is given, the signing key's fingerprint (primary or subkey) is not in that list;
* the signature is of another kind (x509) or the signature is bad.

The signature is checked on the tag object that was inspected (by its id), so the ref cannot
change between the checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import RegistryError, RegistryLookupError, SignatureError, TagExistsError
from ledger.names import TAGS_PREFIX
from ledger.registry import sshsig
from ledger.registry.tagrefs import read_tag_records, split_signature
from ledger.registry.tags import TagKind
from ledger.store import gitdir as gitdirs
from ledger.store.git import RepoLike, cat_file_batch, first_line, repo_path, run_git
from ledger.store.identity import fallback_config

_GOOD_SSH = re.compile(r'Good "git" signature for (?P<who>.+?) with (?P<type>\S+) key (?P<fp>\S+)')
_ANY_SSH = re.compile(r'Good "git" signature with (?P<type>\S+) key (?P<fp>\S+)')
_TRUST_LEVELS = ("undefined", "never", "marginal", "fully", "ultimate")


def create_tag(
    repo: RepoLike, name: str, commit: str, message: str, *, sign: bool | None = None
) -> str:
    """Create the annotated tag ``name`` on ``commit``; return the tag object's id.

    ``sign=True`` signs (``git tag -s``), ``False`` does not, ``None`` follows the user's
    ``tag.gpgSign``. Raises :class:`TagExistsError` if the tag exists, and
    :class:`SignatureError` if git cannot sign.
    """
    if "\n" in name or name.startswith("-"):
        raise RegistryError(f"invalid tag name {name!r}")
    ref = f"refs/tags/{name}"
    check = run_git(repo, ["check-ref-format", ref], check=False)
    if check.returncode != 0:
        raise RegistryError(f"invalid tag name {name!r}: git refuses it as a ref name")
    _refuse_existing(repo, name)
    target = run_git(
        repo, ["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], check=False
    )
    if target.returncode != 0:
        raise RegistryLookupError(f"cannot tag {name}: no commit {commit!r} in the repository")
    sha = target.stdout.decode().strip()
    flags = ["-s"] if sign else (["--no-sign"] if sign is False else [])
    body = message if message.endswith("\n") else message + "\n"
    proc = run_git(
        repo,
        ["tag", "-a", *flags, "--cleanup=whitespace", "-F", "-", "--", name, sha],
        config=fallback_config(gitdirs.find(repo_path(repo))),  # as runs do, without one
        stdin=body.encode("utf-8"),
        check=False,
    )
    if proc.returncode != 0:
        err = first_line(proc.stderr)
        if "already exists" in err:
            _refuse_existing(repo, name)
        if sign or "sign" in err.lower() or "gpg" in err.lower():
            raise SignatureError(
                f"could not sign tag {name}: {err} (check gpg.format and user.signingkey)"
            )
        raise RegistryError(f"could not create tag {name}: {err}")
    obj = run_git(repo, ["rev-parse", ref]).stdout.decode().strip()
    if sign:
        _require_signature(repo, name, obj, first_line(proc.stderr))
    return obj


def _require_signature(repo: RepoLike, name: str, obj: str, stderr: str) -> None:
    # git 2.39 with gpg.format=ssh and an unusable user.signingkey prints ssh-keygen's error,
    # exits 0 and leaves an unsigned tag: never keep such a tag.
    raw = run_git(repo, ["cat-file", "tag", obj]).stdout.decode("utf-8", "replace")
    if split_signature(raw.partition("\n\n")[2])[1]:
        return
    run_git(repo, ["update-ref", "-d", f"refs/tags/{name}", obj], check=False)
    raise SignatureError(
        f"could not sign tag {name}: {stderr or 'git wrote no signature'} "
        "(check gpg.format and user.signingkey)"
    )


def _refuse_existing(repo: RepoLike, name: str) -> None:
    found = run_git(repo, ["rev-parse", "--verify", "--quiet", f"refs/tags/{name}"], check=False)
    if found.returncode == 0:
        raise TagExistsError(
            f"tag {name} exists already ({found.stdout.decode().strip()[:12]}); "
            "registry tags are never overwritten"
        )


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on one tag."""

    tag: str
    ok: bool
    reasons: tuple[str, ...] = ()
    signature_format: str | None = None  # "ssh", "openpgp", "x509" or None
    signer: str | None = None  # the allowed-signers principal, or the openpgp user id
    key: str | None = None  # SHA256:... for ssh, the fingerprint for openpgp

    @property
    def reason(self) -> str:
        if self.ok:
            return f"good {self.signature_format} signature by {self.signer or self.key}"
        return "; ".join(self.reasons)

    def __str__(self) -> str:
        return f"{self.tag}: {'verified' if self.ok else 'FAILED'}: {self.reason}"


@dataclass(frozen=True)
class _TagObject:
    sha: str
    header_name: str
    signature: str
    signature_format: str | None


def verify_tags(
    repo: RepoLike,
    tag_names: Iterable[str],
    allowed_signers: str | os.PathLike[str] | None = None,
    *,
    revocation_file: str | os.PathLike[str] | None = None,
    openpgp_fingerprints: Collection[str] | None = None,
    min_trust: str = "fully",
) -> list[VerifyResult]:
    """Verify each tag's signature; one :class:`VerifyResult` per name, in order.

    ``allowed_signers`` and ``revocation_file`` default to the repository's git
    configuration (``gpg.ssh.allowedSignersFile``, ``gpg.ssh.revocationFile``).
    """
    if min_trust not in _TRUST_LEVELS:
        raise RegistryError(f"invalid trust level {min_trust!r}: one of {', '.join(_TRUST_LEVELS)}")
    config = {"gpg.minTrustLevel": min_trust}
    revocation = None
    for key, value in (
        ("gpg.ssh.allowedSignersFile", allowed_signers),
        ("gpg.ssh.revocationFile", revocation_file),
    ):
        if value is not None:
            path = Path(value).resolve()
            if not path.is_file():
                raise RegistryError(f"{key.rsplit('.', 1)[-1]} not found: {path}")
            config[key] = str(path)
            if key == "gpg.ssh.revocationFile":
                revocation = path
    fingerprints = (
        {f.replace(" ", "").upper() for f in openpgp_fingerprints}
        if openpgp_fingerprints is not None
        else None
    )
    names = list(tag_names)
    objects = _read_tag_objects(repo, names)
    return [
        _verify_one(repo, name, objects.get(name), config, revocation, fingerprints)
        for name in names
    ]


def verify_registry(
    repo: RepoLike,
    allowed_signers: str | os.PathLike[str] | None = None,
    *,
    all_tags: bool = False,
    revocation_file: str | os.PathLike[str] | None = None,
    openpgp_fingerprints: Collection[str] | None = None,
    min_trust: str = "fully",
) -> list[VerifyResult]:
    """Verify every stage (un)assignment tag, or with ``all_tags`` every registry tag.

    Lightweight tags with registry names are included, so that they fail by name.
    """
    kinds = {TagKind.ASSIGN, TagKind.UNASSIGN}
    names = sorted(r.name for r in read_tag_records(repo) if all_tags or r.parsed.kind in kinds)
    return verify_tags(
        repo,
        names,
        allowed_signers,
        revocation_file=revocation_file,
        openpgp_fingerprints=openpgp_fingerprints,
        min_trust=min_trust,
    )


def _read_tag_objects(repo: RepoLike, names: list[str]) -> dict[str, _TagObject | None]:
    """The tag objects behind ``refs/tags/<name>``, in one ``git cat-file --batch``."""
    usable = [n for n in names if n]
    objects = cat_file_batch(repo, [f"{TAGS_PREFIX}{n}" for n in usable])
    return {name: _parse_tag_object(obj.sha, obj.body) if obj and obj.type == "tag" else None
            for name, obj in zip(usable, objects) if obj is not None}


def _parse_tag_object(sha: str, body: bytes) -> _TagObject:
    head, _, contents = body.partition(b"\n\n")
    header_name = ""
    for line in head.split(b"\n"):
        if line.startswith(b"tag "):
            header_name = line[4:].decode("utf-8", "surrogateescape")
    _, signature, fmt = split_signature(contents.decode("utf-8", "replace"))
    return _TagObject(sha, header_name, signature, fmt)


def _verify_one(
    repo: RepoLike,
    name: str,
    obj: _TagObject | None,
    config: dict[str, str],
    revocation: Path | None,
    fingerprints: set[str] | None,
) -> VerifyResult:
    if obj is None:
        ref = f"refs/tags/{name}"
        exists = run_git(repo, ["rev-parse", "--verify", "--quiet", ref], check=False)
        why = "lightweight tag: it cannot be signed" if exists.returncode == 0 else "no such tag"
        return VerifyResult(name, False, (why,))
    reasons: list[str] = []
    if obj.header_name != name:
        reasons.append(
            f"renamed: the tag object is named {obj.header_name!r} but is published as {name!r}"
        )
    if not obj.signature:
        reasons.append("unsigned")
        return VerifyResult(name, False, tuple(reasons))
    if obj.signature_format == "ssh":
        verdict = _verify_ssh(repo, obj, config, revocation)
    elif obj.signature_format == "openpgp":
        verdict = _verify_openpgp(repo, obj, config, fingerprints)
    else:
        verdict = VerifyResult(
            name, False, (f"unsupported signature format {obj.signature_format}",)
        )
    reasons.extend(verdict.reasons)
    return VerifyResult(
        name, not reasons, tuple(reasons), obj.signature_format, verdict.signer, verdict.key
    )


def _verify_ssh(
    repo: RepoLike, obj: _TagObject, config: dict[str, str], revocation: Path | None
) -> VerifyResult:
    blob = sshsig.signature_public_key(obj.signature)
    key = sshsig.fingerprint(blob) if blob else None
    if blob is not None and revocation is not None and sshsig.revoked_in_file(blob, revocation):
        return VerifyResult("", False, (f"key {key} is revoked ({revocation.name})",), key=key)
    proc = run_git(repo, ["verify-tag", "--raw", obj.sha], config=config, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    good = _GOOD_SSH.search(text)
    if proc.returncode == 0 and good:
        return VerifyResult("", True, (), signer=good.group("who"), key=good.group("fp"))
    seen = _ANY_SSH.search(text)
    key = key or (seen.group("fp") if seen else None)
    return VerifyResult("", False, (_ssh_reason(text, key),), key=key)


def _ssh_reason(text: str, key: str | None) -> str:
    k = f"key {key}" if key else "the signing key"
    if "allowedSignersFile needs to be configured" in text:
        return "no allowed-signers file: pass one or set gpg.ssh.allowedSignersFile"
    if "key has expired" in text:
        return f"{k} had expired (valid-before) at the tag's date"
    if "not yet valid" in text:
        return f"{k} was not yet valid (valid-after) at the tag's date"
    if "not permitted for use in signature namespace" in text:
        return f"{k} is not allowed to sign git objects (namespaces)"
    if "No principal matched" in text:
        return f"untrusted: {k} is not in the allowed-signers file"
    if "revoked" in text.lower():
        return f"{k} is revoked"
    last = [line for line in text.splitlines() if line.strip()]
    detail = last[-1].strip() if last else "verification failed"
    return f"bad or rejected signature by {k} (revoked key or altered tag?): {detail}"


def _verify_openpgp(
    repo: RepoLike, obj: _TagObject, config: dict[str, str], fingerprints: set[str] | None
) -> VerifyResult:
    proc = run_git(repo, ["verify-tag", "--raw", obj.sha], config=config, check=False)
    status: dict[str, list[str]] = {}
    for line in (proc.stdout + proc.stderr).decode("utf-8", "replace").splitlines():
        if line.startswith("[GNUPG:] "):
            word, _, rest = line[len("[GNUPG:] ") :].partition(" ")
            status.setdefault(word, rest.split())
    valid = status.get("VALIDSIG", [])
    keys = {k.upper() for k in (valid[:1] + valid[9:10])}
    key = valid[-1] if valid else None
    good = status.get("GOODSIG", [])
    signer = " ".join(good[1:]) or None
    reasons: list[str] = []
    if proc.returncode != 0 or "GOODSIG" not in status:
        reasons.append(_openpgp_reason(status, key))
    elif fingerprints is not None and not keys & fingerprints:
        reasons.append(f"untrusted: key {key} is not in the list of allowed fingerprints")
    return VerifyResult("", not reasons, tuple(reasons), signer=signer, key=key)


def _openpgp_reason(status: dict[str, list[str]], key: str | None) -> str:
    for word, why in (
        ("BADSIG", "bad signature (altered tag?)"),
        ("REVKEYSIG", "the key is revoked"),
        ("EXPKEYSIG", "the key has expired"),
        ("EXPSIG", "the signature has expired"),
        ("NO_PUBKEY", "the signing key is not in the keyring"),
        ("ERRSIG", "the signature could not be checked"),
    ):
        if word in status:
            return why
    for word in status:
        if word.startswith("TRUST_"):
            level = word[len("TRUST_") :].lower()
            return f"untrusted: the keyring's trust in key {key} is {level}"
    return "signature rejected by git verify-tag"
