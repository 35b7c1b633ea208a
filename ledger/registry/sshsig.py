"""Just enough of OpenSSH's SSHSIG format to name the key that made a signature.

Verification itself is git's and ssh-keygen's job; this only reads the public key out of an
armored signature so that a failure can say which key it was, and whether a plain-text
revocation list names it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from pathlib import Path

_MAGIC = b"SSHSIG"
_KRL_MAGIC = b"SSHKRL\n\0"


def _read_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    (length,) = struct.unpack_from(">I", blob, pos)
    start = pos + 4
    if start + length > len(blob):
        raise ValueError("truncated SSHSIG field")
    return blob[start : start + length], start + length


def signature_public_key(armored: str) -> bytes | None:
    """The public key blob inside an armored SSH signature, or None if unreadable."""
    body = "".join(
        line.strip() for line in armored.splitlines() if line.strip() and "-----" not in line
    )
    try:
        blob = base64.b64decode(body, validate=True)
        if not blob.startswith(_MAGIC):
            return None
        key, _ = _read_string(blob, len(_MAGIC) + 4)  # skip the uint32 version
    except (binascii.Error, ValueError, struct.error):
        return None
    return key


def fingerprint(key_blob: bytes) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key blob."""
    digest = base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def revoked_in_file(key_blob: bytes, path: Path) -> bool | None:
    """Whether a plain revocation list (public keys, one a line) names the key.

    None when the file is a binary KRL (or unreadable): then only ssh-keygen can tell.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(_KRL_MAGIC):
        return None
    for raw in data.decode("utf-8", "replace").splitlines():
        for token in raw.split():
            try:
                if base64.b64decode(token, validate=True) == key_blob:
                    return True
            except (binascii.Error, ValueError):
                continue
    return False
