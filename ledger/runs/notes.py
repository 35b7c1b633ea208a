"""Runs in `git log`: each run adds itself to a git note on its source commit.

The notes live on ``refs/notes/ledger`` (never the user's ``refs/notes/commits``), so
``git log --notes=ledger`` shows, under each commit, the runs that came from it:

    Notes (ledger):
        run 0193ab… rf-1 (iris)

A note is a set of lines, one per run, sorted; adding is a union, so the notes of two clones
never conflict: each clone writes the notes of the runs it commits or pulls, from the runs
themselves (the notes ref is local: it is derived, never pushed). The notes tree fans out as
``ab/cdef…`` (as git does for many notes), so adding a note rewrites two trees whatever the
number of notes (P4). A note lists at most NOTE_RUNS runs, then one line saying how to list the
rest: a sweep of 10,000 runs from one commit neither grows one blob without bound nor writes a
notes commit per run once its note is full.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dulwich.objects import Commit, ObjectID

from ledger.runs.record import RunRecord
from ledger.store import trees
from ledger.store.identity import identity
from ledger.store.objects import FILE_MODE, Written, blob

if TYPE_CHECKING:
    from ledger.runs.store import RunStore

NOTES_REF = b"refs/notes/ledger"


NOTE_RUNS = 20


def more_line(commit: str) -> str:
    return f"… more runs: ledger runs --where \"source.commit = '{commit}'\""


def note_line(record: RunRecord) -> str:
    return f"run {record.id} {record.name} ({record.experiment})"


def add(store: RunStore, records: Iterable[RunRecord]) -> bytes | None:
    """Add the runs to the notes of their source commits (a no-op for runs already there)."""
    records = list(records)

    def build(old: bytes | None) -> bytes | None:
        prepared = prepare(store, records, old)
        if prepared is None:
            return None
        store.objects.add(prepared)
        return prepared[-1].id

    return store.refs.update(NOTES_REF, build)


def prepare(store: RunStore, records: Iterable[RunRecord], old: bytes | None
            ) -> list[Written] | None:
    """The objects of the notes commit that adds `records` to the notes at `old`, its commit
    last; None if every run is noted already. Writes nothing: a run commit puts these objects
    into its own pack (one pack per commit) and then moves the notes ref."""
    wanted: dict[str, set[str]] = {}
    objects = store.objects
    for record in records:
        commit = (record.source or {}).get("commit")
        # a run imported from elsewhere may name a commit this repository lacks: no note
        if (isinstance(commit, str) and len(commit) == 40 and commit not in store.full_notes
                and store.has_commit(commit)):
            wanted.setdefault(commit, set()).add(note_line(record))
    if not wanted:
        return None
    root = objects.commit(old).tree if old is not None else None
    out: list[Written] = []
    changes: dict[str, trees.Entry | None] = {}
    for commit, lines in sorted(wanted.items()):
        path = f"{commit[:2]}/{commit[2:]}"
        entry = objects.lookup(root, path) if root is not None else None
        flat = False
        if entry is None and root is not None:  # a flat note written by git itself
            entry = objects.lookup(root, commit)
            flat = entry is not None
        have = set(objects.blob_bytes(entry[1]).decode().splitlines()) if entry else set()
        more = more_line(commit)
        if more in have:  # full, and stays so: notes only grow
            store.full_notes.add(commit)
            continue
        if lines <= have:
            continue
        listed = sorted(have | lines)
        if len(listed) > NOTE_RUNS:
            listed = listed[:NOTE_RUNS] + [more]
        note = blob(("\n".join(listed) + "\n").encode())
        out.append(note)
        changes[path] = (FILE_MODE, note.id)
        if flat:  # the fanned-out note replaces it
            changes[commit] = None
    if not changes:
        return None
    tree = trees.edit(objects, root, changes, out)
    assert tree is not None
    out.append(_commit(store, tree, old))
    return out


def _commit(store: RunStore, tree: bytes, parent: bytes | None) -> Commit:
    commit = Commit()
    commit.tree = ObjectID(tree)
    commit.parents = [ObjectID(parent)] if parent else []
    who = identity(store.gitdir)
    commit.author = commit.committer = who
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"Notes added by 'ledger'\n"
    return commit
