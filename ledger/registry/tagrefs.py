"""Read every registry tag of a repository with one ``git for-each-ref`` call.

One process lists the tags whose names can be ours (the patterns of
:data:`ledger.registry.tags.TAG_REF_PATTERNS`, so git never opens the objects of unrelated
tags) with their object, peeled commit, tagger, date, the name written inside the tag object,
and the full message. The message is framed by ``%(contents:size)``, so any byte in a message
is read correctly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.errors import RegistryError
from ledger.names import TAGS_PREFIX
from ledger.registry.tags import TAG_REF_PATTERNS, RegistryTag, model_tag_patterns, parse_tag
from ledger.store.git import RepoLike, run_git

_FIELDS = (
    "%(refname)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objectname)",
    "%(tag)",
    "%(taggername)",
    "%(taggeremail)",
    "%(taggerdate:raw)",
    "%(contents:signature)",  # ASCII armor: never holds a NUL, so it is safe as a field
    "%(contents:size)",
)
_FORMAT = "%00".join(_FIELDS) + "%00%(contents)"
_HEAD = re.compile(rb"(?:[^\0]*\0){%d}" % len(_FIELDS))

# git takes the last line that starts one of these as the start of the signature.
_SIGNATURE_STARTS = {
    "-----BEGIN PGP SIGNATURE-----": "openpgp",
    "-----BEGIN PGP MESSAGE-----": "openpgp",
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}


@dataclass(frozen=True, slots=True)
class TagRecord:
    """One registry tag as git stores it."""

    name: str  # without refs/tags/
    parsed: RegistryTag
    annotated: bool  # False for a lightweight tag (GTO ignores those, but counts them)
    object: str  # the tag object (or, for a lightweight tag, the commit)
    commit: str  # the commit the tag points to
    tag_header: str  # the name written inside the tag object ("" if lightweight)
    tagger_name: str
    tagger_email: str
    time: int  # tagger time, seconds since the epoch
    tz: str  # tagger offset, e.g. "+0100"
    message: str  # without the signature
    signature: str  # "" when unsigned
    signature_format: str | None  # "ssh", "openpgp", "x509" or None

    @property
    def signed(self) -> bool:
        return bool(self.signature)

    @property
    def tagger(self) -> str:
        return f"{self.tagger_name} {self.tagger_email}".strip()


def split_signature(contents: str) -> tuple[str, str, str | None]:
    """Split a tag message into (message, signature, format), as git does."""
    if "-----BEGIN " not in contents:
        return contents, "", None
    start, kind, offset = -1, None, 0
    while offset < len(contents):  # lines end at "\n" only, as in git
        for marker, fmt in _SIGNATURE_STARTS.items():
            if contents.startswith(marker, offset):
                start, kind = offset, fmt
        eol = contents.find("\n", offset)
        offset = len(contents) if eol < 0 else eol + 1
    if start < 0:
        return contents, "", None
    return contents[:start], contents[start:], kind


def read_tag_records(repo: RepoLike, models: Iterable[str] | None = None) -> list[TagRecord]:
    """All tags of ``repo`` whose names are registry tags (of ``models`` only, when given),
    in one ``git for-each-ref``."""
    if models is None:
        patterns: tuple[str, ...] = TAG_REF_PATTERNS
    else:
        wanted = set(models)
        patterns = tuple(p for m in sorted(wanted) for p in model_tag_patterns(m))
        if not patterns:  # no pattern at all would list every ref
            return []
    out = run_git(repo, ["for-each-ref", f"--format={_FORMAT}", *patterns]).stdout
    records = parse_for_each_ref(out)
    return records if models is None else [r for r in records if r.parsed.model in wanted]


def parse_for_each_ref(out: bytes) -> list[TagRecord]:
    """Parse the output of ``for-each-ref --format=<_FORMAT>``; foreign tags are skipped."""
    records: list[TagRecord] = []
    pos, end = 0, len(out)
    while pos < end:
        head = _HEAD.match(out, pos)
        if head is None:
            raise RegistryError("unexpected output from git for-each-ref")
        fields = out[pos : head.end() - 1].decode("utf-8", "surrogateescape").split("\0")
        pos = head.end()
        size = int(fields[-1] or "0")
        contents = out[pos : pos + size]
        pos += size + 1  # for-each-ref ends each record with a newline
        record = _record(fields, contents)
        if record is not None:
            records.append(record)
    return records


def _record(fields: list[str], contents: bytes) -> TagRecord | None:
    refname, objtype, obj, peeled, header, tname, temail, tdate, armor, _ = fields
    parsed = parse_tag(refname[len(TAGS_PREFIX) :]) if refname.startswith(TAGS_PREFIX) else None
    if parsed is None:
        return None
    name = refname[len(TAGS_PREFIX) :]
    annotated = objtype == "tag"
    stamp, _, tz = tdate.partition(" ")
    message, signature, fmt = split_signature(contents.decode("utf-8", "replace"))
    if armor and not signature:  # a git that leaves the signature out of %(contents)
        signature, fmt = armor, split_signature(armor)[2]
    return TagRecord(
        name=name,
        parsed=parsed,
        annotated=annotated,
        object=obj,
        commit=peeled if annotated else obj,
        tag_header=header if annotated else "",
        tagger_name=tname,
        tagger_email=temail,
        time=int(stamp) if stamp.lstrip("-").isdigit() else 0,
        tz=tz,
        message=message if annotated else "",
        signature=signature if annotated else "",
        signature_format=fmt if annotated else None,
    )
