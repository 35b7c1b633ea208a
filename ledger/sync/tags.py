"""Which model tags travel between a repository and a remote, and in what groups.

Only registry tags travel (`is_registry_tag`, from the registry's tag grammar).
A tag is never overwritten: one that exists on both sides with different objects is a
conflict to report. Tags are pushed in small groups because CI systems ignore a push that
carries many tags at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.names import TAGS_PREFIX

GROUP_SIZE = 20
TagFilter = Callable[[str], bool]

def is_registry_tag(name: str) -> bool:
    """Whether a tag name (without `refs/tags/`) is a model registry tag: the registry's own
    grammar decides (one grammar per name)."""
    from ledger.registry.tags import is_registry_tag as registry_grammar

    return registry_grammar(name)


@dataclass
class TagPlan:
    """What to do with the registry tags of two sides (names without `refs/tags/`)."""

    missing_here: list[str] = field(default_factory=list)  # to fetch
    missing_there: list[str] = field(default_factory=list)  # to push
    conflicts: list[str] = field(default_factory=list)  # same name, different objects


def plan(here: Mapping[str, bytes], there: Mapping[str, bytes],
         wanted: TagFilter = is_registry_tag) -> TagPlan:
    """Compare two maps `refs/tags/NAME -> object id`; other refs are ignored."""
    mine, theirs = _registry_tags(here, wanted), _registry_tags(there, wanted)
    out = TagPlan()
    for name in sorted(mine.keys() | theirs.keys()):
        if name not in mine:
            out.missing_here.append(name)
        elif name not in theirs:
            out.missing_there.append(name)
        elif mine[name] != theirs[name]:
            out.conflicts.append(name)
    return out


def _registry_tags(refs: Mapping[str, bytes], wanted: TagFilter) -> dict[str, bytes]:
    return {ref[len(TAGS_PREFIX):]: sha for ref, sha in refs.items()
            if ref.startswith(TAGS_PREFIX) and wanted(ref[len(TAGS_PREFIX):])}


def refspecs(names: Sequence[str]) -> list[str]:
    """Non-forcing refspecs that copy each tag to the same name."""
    return [f"{TAGS_PREFIX}{n}:{TAGS_PREFIX}{n}" for n in names]


def groups(items: Sequence[str], size: int = GROUP_SIZE) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
