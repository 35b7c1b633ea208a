"""The one grammar of registry tag names (GTO's), built and parsed here only.

Tag forms, exactly as GTO writes them (``gto`` 1.10):

==========================  ===============================================
``NAME@vX.Y.Z``             register a version (semantic version, ``v`` prefix)
``NAME@vX.Y.Z!``            deregister that version
``NAME#STAGE#N``            assign STAGE to the version at the tagged commit
``NAME#STAGE!#N``           unassign STAGE from it
``NAME@deprecated``         deprecate the model
==========================  ===============================================

GTO's parser also takes an optional ``#N`` counter on *every* form (``NAME@vX.Y.Z#N``,
``NAME@vX.Y.Z!#N``, ``NAME@deprecated#N``), assignments without one (``NAME#STAGE``, GTO's
``--simple`` form) and ``NAME@created``; all of these parse here too. A model name in a tag may
carry GTO's folder prefix ``dir=name`` (the model is then called ``dir:name``).

Parsing is lenient the way GTO's is (upper case and ``_`` in names, pre-release and build parts
in versions), so ``gto`` and ``ledger`` see the same registry. Building is strict: names that
the ledger creates must match ``[a-z0-9]([a-z0-9-/_]*[a-z0-9])?`` (and contain no ``//``, which
git refuses in ref names). A tag of another tool (``v1.0``, ``release-2``) parses to ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import total_ordering
from typing import Literal

from ledger.errors import RegistryNameError

BumpPart = Literal["major", "minor", "patch"]

# Every tag this module can parse contains "@" or "#"; the "@" part never has a "/" after it,
# but a stage name may. These for-each-ref patterns therefore cover the whole grammar and let
# git skip the objects of unrelated tags.
TAG_REF_PATTERNS = ("refs/tags/**/*@*", "refs/tags/**/*#*", "refs/tags/**/*#*/**")



def model_tag_patterns(model: str) -> tuple[str, ...]:
    """for-each-ref patterns for the tags of one model only (git matches ``*`` within a path
    component, so ``iris@*`` leaves ``iris-2@v1`` and ``iris/sub@v1`` out)."""
    prefix = "refs/tags/" + model.replace(":", "=")
    return (f"{prefix}@*", f"{prefix}#*", f"{prefix}#*/**")


_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = (
    rf"v(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)
_LOOSE_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_/-]*[A-Za-z0-9])?"
_STRICT_NAME = r"[a-z0-9](?:[a-z0-9_/-]*[a-z0-9])?"
_DIRNAME = r"[A-Za-z0-9_./-]+"

_SEMVER_RE = re.compile(_SEMVER, re.ASCII)
_STRICT_NAME_RE = re.compile(_STRICT_NAME, re.ASCII)
_TAG_RE = re.compile(
    rf"(?P<model>(?:{_DIRNAME}=)?{_LOOSE_NAME})"
    rf"(?:(?:#(?P<stage>{_LOOSE_NAME})|@(?P<version>{_SEMVER}))(?P<cancel>!?)"
    r"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[0-9]+))?",
    re.ASCII,
)
_REF_RE = re.compile(
    rf"(?P<model>(?:{_DIRNAME}:)?{_LOOSE_NAME})"
    rf"(?:#(?P<stage>{_LOOSE_NAME})|@(?P<version>latest|greatest|{_SEMVER}))",
    re.ASCII,
)


def _ident_key(ident: str) -> tuple[int, int, str]:
    # SemVer 2.0 §11: numeric identifiers sort numerically and below alphanumeric ones.
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A semantic version ``vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``.

    Ordered by SemVer precedence (a pre-release sorts below its release); build metadata,
    which has no precedence, breaks ties so that the order is total and deterministic.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self) -> tuple[object, ...]:
        pre = (0, tuple(_ident_key(i) for i in self.prerelease)) if self.prerelease else (1, ())
        return (self.major, self.minor, self.patch, pre, self.build)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()


def _semver_from_match(m: re.Match[str]) -> SemVer:
    pre, build = m.group("pre"), m.group("build")
    return SemVer(
        int(m.group("major")),
        int(m.group("minor")),
        int(m.group("patch")),
        tuple(pre.split(".")) if pre else (),
        tuple(build.split(".")) if build else (),
    )


def parse_version(text: str) -> SemVer:
    """Parse ``vX.Y.Z`` (with optional pre-release and build parts, as GTO allows)."""
    m = _SEMVER_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise RegistryNameError(
            f"invalid version {text!r}: expected a semantic version such as 'v1.2.0'"
        )
    return _semver_from_match(m)


def bump(version: SemVer | str, part: BumpPart = "patch") -> SemVer:
    """The next version: ``major``, ``minor`` or ``patch`` (pre-release and build dropped)."""
    v = parse_version(version) if isinstance(version, str) else version
    if part == "major":
        return SemVer(v.major + 1, 0, 0)
    if part == "minor":
        return SemVer(v.major, v.minor + 1, 0)
    if part == "patch":
        return SemVer(v.major, v.minor, v.patch + 1)
    raise RegistryNameError(f"invalid bump {part!r}: expected major, minor or patch")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a model or stage name the ledger may create."""
    return (
        isinstance(name, str) and _STRICT_NAME_RE.fullmatch(name) is not None and "//" not in name
    )


def check_name(name: str, what: str = "model name") -> str:
    """Return ``name`` if :func:`is_valid_name`, else raise :class:`RegistryNameError`."""
    if not is_valid_name(name):
        raise RegistryNameError(
            f"invalid {what} {name!r}: use lowercase letters, digits, '-', '_' and '/', "
            "starting and ending with a letter or digit"
        )
    return name


class TagKind(str, Enum):
    """What a registry tag records."""

    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"
    CREATE = "create"  # GTO parses NAME@created but never acts on it


@dataclass(frozen=True)
class RegistryTag:
    """A parsed registry tag name; ``str(tag)`` gives the tag name back."""

    kind: TagKind
    model: str
    version: SemVer | None = None
    stage: str | None = None
    counter: int | None = None

    def __str__(self) -> str:
        text = self.model.replace(":", "=")
        if self.kind in (TagKind.REGISTER, TagKind.DEREGISTER):
            text += f"@{self.version}"
        elif self.kind in (TagKind.ASSIGN, TagKind.UNASSIGN):
            text += f"#{self.stage}"
        else:
            text += "@deprecated" if self.kind is TagKind.DEPRECATE else "@created"
        if self.kind in (TagKind.DEREGISTER, TagKind.UNASSIGN):
            text += "!"
        if self.counter is not None:
            text += f"#{self.counter}"
        return text


def parse_tag(name: str) -> RegistryTag | None:
    """Parse a tag name (without ``refs/tags/``); ``None`` if it is not a registry tag."""
    if not isinstance(name, str) or ("@" not in name and "#" not in name):
        return None
    m = _TAG_RE.fullmatch(name)
    if m is None:
        return None
    model = m.group("model").replace("=", ":")
    counter = int(m.group("counter")) if m.group("counter") is not None else None
    cancel = m.group("cancel") == "!"
    if m.group("version") is not None:
        kind = TagKind.DEREGISTER if cancel else TagKind.REGISTER
        return RegistryTag(kind, model, version=_semver_from_match(m), counter=counter)
    if m.group("stage") is not None:
        kind = TagKind.UNASSIGN if cancel else TagKind.ASSIGN
        return RegistryTag(kind, model, stage=m.group("stage"), counter=counter)
    kind = TagKind.DEPRECATE if m.group("special") == "deprecated" else TagKind.CREATE
    return RegistryTag(kind, model, counter=counter)


def is_registry_tag(name: str) -> bool:
    """Whether a tag name (without ``refs/tags/``) is a registry tag, e.g. for pushing them."""
    return parse_tag(name) is not None


def _check_counter(counter: int) -> int:
    if not isinstance(counter, int) or isinstance(counter, bool) or counter < 1:
        raise RegistryNameError(f"invalid tag counter {counter!r}: expected an integer >= 1")
    return counter


def _as_version(version: SemVer | str) -> SemVer:
    return parse_version(version) if isinstance(version, str) else version


def version_tag(model: str, version: SemVer | str) -> str:
    """``NAME@vX.Y.Z``: the tag that registers a version."""
    return str(RegistryTag(TagKind.REGISTER, check_name(model), version=_as_version(version)))


def deregistration_tag(model: str, version: SemVer | str) -> str:
    """``NAME@vX.Y.Z!``: the tag that deregisters a version (GTO's default, no counter)."""
    v = _as_version(version)
    return str(RegistryTag(TagKind.DEREGISTER, check_name(model), version=v))


def assignment_tag(model: str, stage: str, counter: int) -> str:
    """``NAME#STAGE#N``: the tag that assigns a stage."""
    return _stage_tag(TagKind.ASSIGN, model, stage, counter)


def unassignment_tag(model: str, stage: str, counter: int) -> str:
    """``NAME#STAGE!#N``: the tag that unassigns a stage."""
    return _stage_tag(TagKind.UNASSIGN, model, stage, counter)


def _stage_tag(kind: TagKind, model: str, stage: str, counter: int) -> str:
    return str(RegistryTag(kind, check_name(model), stage=check_name(stage, "stage name"),
                           counter=_check_counter(counter)))


def deprecation_tag(model: str) -> str:
    """``NAME@deprecated``: the tag that deprecates a model (GTO's default, no counter)."""
    return str(RegistryTag(TagKind.DEPRECATE, check_name(model)))


@dataclass(frozen=True)
class ModelRef:
    """A reference to a model version: ``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE``."""

    model: str
    version: SemVer | None = None
    stage: str | None = None

    @property
    def latest(self) -> bool:
        return self.version is None and self.stage is None

    def __str__(self) -> str:
        if self.stage is not None:
            return f"{self.model}#{self.stage}"
        return f"{self.model}@{self.version if self.version is not None else 'latest'}"


def parse_ref(text: str) -> ModelRef:
    """Parse a user's reference; ``@greatest`` is accepted as GTO's synonym of ``@latest``."""
    m = _REF_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise RegistryNameError(
            f"invalid model reference {text!r}: expected NAME@vX.Y.Z, NAME@latest or NAME#STAGE"
        )
    version = m.group("version")
    if version is not None and version not in ("latest", "greatest"):
        return ModelRef(m.group("model"), version=_semver_from_match(m))
    return ModelRef(m.group("model"), stage=m.group("stage"))
