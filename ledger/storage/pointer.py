"""The pointer blob that stands in git for a file kept in the store.

    ledger-pointer v1
    sha256 <64 hex>
    size <bytes>

One grammar, built and parsed here. A blob is a pointer only if it is exactly this text, so
an ordinary small file is never mistaken for one unless it is, byte for byte, a pointer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAGIC = b"ledger-pointer v1\n"
MAX_BYTES = 128  # a pointer is ~100 bytes; anything larger is an ordinary file
_GRAMMAR = re.compile(rb"ledger-pointer v1\nsha256 ([0-9a-f]{64})\nsize (0|[1-9][0-9]{0,18})\n")


@dataclass(frozen=True)
class Pointer:
    sha256: str
    size: int

    def encode(self) -> bytes:
        return MAGIC + f"sha256 {self.sha256}\nsize {self.size}\n".encode()

    @property
    def key(self) -> str:
        """Where the object lives in a store: ``sha256/ab/cdef…``."""
        return f"sha256/{self.sha256[:2]}/{self.sha256[2:]}"


def parse(data: bytes) -> Pointer | None:
    """The pointer ``data`` is, or None for any other content."""
    if len(data) > MAX_BYTES or not data.startswith(MAGIC):
        return None
    found = _GRAMMAR.fullmatch(data)
    return Pointer(found[1].decode(), int(found[2])) if found else None
