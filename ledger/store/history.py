"""How two commits relate in history: equal, one contains the other, or diverged.

The walk paints commits reachable from either side, newest first, and stops as soon as every
commit left to visit is reachable from both (git's `paint_down_to_common`). Its cost is the
history made since the two sides parted, not the length of the whole history. Commit dates
only order the walk; a skewed clock makes it visit more commits, never answer wrongly.
"""

from __future__ import annotations

import heapq
from enum import Enum

from ledger.store.objects import ObjectStore

_LEFT, _RIGHT, _STALE = 1, 2, 4
_BOTH = _LEFT | _RIGHT


class Relation(Enum):
    SAME = "same"
    AHEAD = "ahead"  # the left side contains the right one
    BEHIND = "behind"  # the right side contains the left one
    DIVERGED = "diverged"


def relate(store: ObjectStore, left: bytes, right: bytes) -> Relation:
    """How `left` relates to `right` (both commit ids present in `store`)."""
    if left == right:
        return Relation.SAME
    flags: dict[bytes, int] = {left: _LEFT, right: _RIGHT}
    queue: list[tuple[int, bytes]] = []
    for sha in (left, right):
        heapq.heappush(queue, (-store.commit(sha).commit_time, sha))
    while queue and any(flags[sha] & _STALE == 0 for _, sha in queue):
        _, sha = heapq.heappop(queue)
        mine = flags[sha]
        if mine & _BOTH == _BOTH:
            if sha == left:
                return Relation.BEHIND
            if sha == right:
                return Relation.AHEAD
            mine |= _STALE
            flags[sha] = mine
        for parent in store.commit(sha).parents:
            have = flags.get(parent, 0)
            if have | mine == have:
                continue
            flags[parent] = have | mine
            heapq.heappush(queue, (-store.commit(parent).commit_time, parent))
    if flags[left] & _RIGHT:
        return Relation.BEHIND
    if flags[right] & _LEFT:
        return Relation.AHEAD
    return Relation.DIVERGED
