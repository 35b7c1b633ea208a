"""Share the ledger with a git remote: pull, push, and sync (pull, then push until it lands).

- pull: fetch the remote's `refs/ledger/*` (not its own `refs/ledger/remotes/`) into
  `refs/ledger/remotes/<remote>/…`, then merge its runs into `refs/ledger/runs` (merge.py);
  model tags the remote has and we lack are fetched too.
- push: a plain, non-forcing push of `refs/ledger/runs`. If the remote has moved (someone
  pushed first), fetch, merge and push again, with jittered waits, a bounded number of times.
  Model tags we have and the remote lacks follow, in small groups.

Nothing here moves `refs/ledger/runs` except through the compare-and-swap of `Refs.update`,
and nothing touches HEAD, the index, the work tree, branches or FETCH_HEAD. A transfer that
dies half-way leaves the local ledger as it was; the next try completes it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledger.errors import SyncError
from ledger.names import LEDGER_REFS, REMOTES_REFS, TAGS_PREFIX
from ledger.runs.store import RUNS_REF, changed_runs
from ledger.store.history import Relation, relate
from ledger.sync import tags as tagsync
from ledger.sync.merge import Merged, merge_history
from ledger.sync.remote import Git, Remote
from ledger.sync.screen import Refused

if TYPE_CHECKING:
    from ledger.api import Ledger

DEFAULT_REMOTE = "origin"
MAX_TRIES = 16
MAX_WAIT = 2.0  # seconds, the longest pause between two tries
RUNS = RUNS_REF.decode()


@dataclass
class SyncResult:
    """What a pull, push or sync did, for the CLI to show."""

    remote: str
    pulled: str = ""  # "", "up to date", "created", "fast-forward", "merged"
    pushed: str = ""  # "", "up to date", "pushed", "nothing to push"
    head: str | None = None
    runs_changed: int = 0  # runs added or changed here by the pull
    runs_merged: int = 0  # of which both sides had another version
    tags_fetched: list[str] = field(default_factory=list)
    tags_pushed: list[str] = field(default_factory=list)
    tag_conflicts: list[str] = field(default_factory=list)
    tries: int = 0  # pushes attempted
    uploaded: int = 0  # large files sent to the store before the push
    uploaded_bytes: int = 0
    refused: list[Refused] = field(default_factory=list)  # the remote's invalid runs, not merged


@dataclass(frozen=True)
class Options:
    """How to talk to the remote.

    interactive: git may prompt on the terminal for credentials (else GIT_TERMINAL_PROMPT=0).
    tries: pushes to attempt while others keep pushing first.
    is_registry_tag: which tag names travel (default: `tagsync.is_registry_tag`).
    timeout: seconds without any sign of life from git (default: LEDGER_SYNC_TIMEOUT or 120).
    progress: called with (bytes done, bytes in all) while large files upload.
    """

    interactive: bool = False
    tries: int = MAX_TRIES
    is_registry_tag: tagsync.TagFilter | None = None
    timeout: float | None = None
    progress: Callable[[int, int], None] | None = None


def pull(repo: Ledger | str | os.PathLike[str] | None = None, remote: str = DEFAULT_REMOTE,
         options: Options = Options()) -> SyncResult:
    """Fetch the remote's ledger and model tags, and merge its runs into ours."""
    session = _Session.open(repo, remote, options)
    session.pull()
    return session.result


def push(repo: Ledger | str | os.PathLike[str] | None = None, remote: str = DEFAULT_REMOTE,
         options: Options = Options()) -> SyncResult:
    """Push our runs (merging the remote's first if it moved) and our model tags."""
    session = _Session.open(repo, remote, options)
    session.push()
    return session.result


def sync(repo: Ledger | str | os.PathLike[str] | None = None, remote: str = DEFAULT_REMOTE,
         options: Options = Options()) -> SyncResult:
    """Pull, then push until it lands: afterwards both sides hold the same ledger."""
    session = _Session.open(repo, remote, options)
    session.pull()
    session.push()
    return session.result


class _Session:
    """One conversation with one remote; remembers what the remote advertised."""

    def __init__(self, lg: Ledger, remote: str, options: Options) -> None:
        self.store = lg.store
        self.git = Git(lg.gitdir, interactive=options.interactive, timeout=options.timeout)
        self.remote: Remote = self.git.resolve(remote)
        self.tracking = f"{REMOTES_REFS}{self.remote.label}/runs"
        self.tries = max(1, options.tries)
        self.wanted = options.is_registry_tag or tagsync.is_registry_tag
        self.result = SyncResult(self.remote.name)
        self._advertised: dict[str, bytes] | None = None
        self.progress = options.progress

    @classmethod
    def open(cls, repo: Ledger | str | os.PathLike[str] | None, remote: str,
             options: Options) -> _Session:
        """Accepts a path or an open Ledger (STYLE.md's "path or handle")."""
        from ledger.api import open_ledger

        lg, _opened = open_ledger(repo)
        return cls(lg, remote or DEFAULT_REMOTE, options)

    # -- what the remote has ------------------------------------------------------------------
    def advertised(self) -> dict[str, bytes]:
        if self._advertised is None:
            self._advertised = self.git.ls_remote(self.remote,
                                                  [f"{LEDGER_REFS}*", f"{TAGS_PREFIX}*"])
        return self._advertised

    def local_tags(self) -> dict[str, bytes]:
        refs = self.store.refs
        return {name.decode("utf-8", "surrogateescape"): sha
                for name in refs.names(TAGS_PREFIX.encode())
                if (sha := refs.get(name)) is not None}

    def ledger_refspecs(self) -> list[str]:
        return [f"+{LEDGER_REFS}*:{REMOTES_REFS}{self.remote.label}/*", f"^{REMOTES_REFS}*"]

    # -- pull ---------------------------------------------------------------------------------
    def pull(self) -> None:
        advertised = self.advertised()
        theirs = advertised.get(RUNS)
        has_ledger = any(n.startswith(LEDGER_REFS) and not n.startswith(REMOTES_REFS)
                         for n in advertised)
        fetch_runs = has_ledger and (
            theirs is None or theirs not in self.store.objects
            or self.store.refs.get(self.tracking.encode()) != theirs)
        tags = tagsync.plan(self.local_tags(), advertised, self.wanted)
        specs = self.ledger_refspecs() if fetch_runs else []
        self.git.fetch(self.remote, specs + tagsync.refspecs(tags.missing_here))
        self.result.tags_fetched = tags.missing_here
        self._note_conflicts(tags.conflicts)
        if fetch_runs and theirs is not None:  # the remote may have moved since it advertised
            theirs = self.store.refs.get(self.tracking.encode()) or theirs
        self.result.pulled = "up to date" if theirs is not None else "nothing to pull"
        if theirs is not None:
            self._merge(theirs)

    def _merge(self, theirs: bytes) -> None:
        done = merge_history(self.store, theirs, self.remote.name)
        self._record_merge(done)

    def _record_merge(self, done: Merged) -> None:
        known = {r.run_id for r in self.result.refused}
        self.result.refused.extend(r for r in done.refused if r.run_id not in known)
        if done.kind == "up to date":
            return
        objects = self.store.objects
        changed = changed_runs(objects, self.store.root(done.old), self.store.root(done.new))
        self.store.note_runs(changed, done.new)  # the pulled runs in `git log --notes=ledger`
        self.result.pulled = done.kind
        self.result.runs_changed += len(changed)
        self.result.runs_merged += done.runs_merged

    def _fetch_runs(self) -> bytes | None:
        """Fetch the remote's ledger refs now; its runs head (None: it has none)."""
        self.git.fetch(self.remote, self.ledger_refspecs())
        return self.store.refs.get(self.tracking.encode())

    # -- push ---------------------------------------------------------------------------------
    def push(self) -> None:
        theirs = self.advertised().get(RUNS)
        for attempt in range(self.tries):
            if theirs is not None and not self._contains(theirs):
                if theirs not in self.store.objects:
                    theirs = self._fetch_runs()
                if theirs is not None:
                    self._merge(theirs)
            ours = self.store.head()
            if ours is None or ours == theirs:
                self.result.pushed = "nothing to push" if ours is None else "up to date"
                break
            self.result.tries = attempt + 1
            self._upload_large_files(theirs, ours)
            outcome = {p.dst: p for p in self.git.push(self.remote, [f"{ours.decode()}:{RUNS}"])}
            pushed = outcome.get(RUNS)
            if pushed is not None and pushed.ok:
                self.result.pushed = "pushed"
                self._set_tracking(ours)
                break
            if pushed is None or not pushed.lost_race:
                reason = f"{pushed.summary} ({pushed.reason})" if pushed else "no answer"
                raise SyncError(f"{self.remote.name} refused {RUNS}: {reason}")
            time.sleep(random.uniform(0, min(MAX_WAIT, 0.05 * 2 ** attempt)))
            theirs = self._fetch_runs()
        else:
            raise SyncError(
                f"could not push {RUNS} to {self.remote.name}: others pushed first "
                f"{self.tries} times in a row; your runs are safe here, try again"
            )
        head = self.store.head()
        self.result.head = head.decode() if head else None
        self._push_tags()

    def _upload_large_files(self, theirs: bytes | None, ours: bytes) -> None:
        """What the pushed runs point to goes to the store before the remote ref moves."""
        from ledger.sync.large_files import upload_for_push

        done = upload_for_push(self.store, theirs, ours, self.progress)
        self.result.uploaded += done.sent
        self.result.uploaded_bytes += done.bytes

    def _contains(self, theirs: bytes) -> bool:
        ours = self.store.head()
        if ours is None or theirs not in self.store.objects:
            return False
        return relate(self.store.objects, ours, theirs) in (Relation.SAME, Relation.AHEAD)

    def _set_tracking(self, sha: bytes) -> None:
        self.store.refs.update(self.tracking.encode(), lambda _old: sha)

    def _push_tags(self) -> None:
        tags = tagsync.plan(self.local_tags(), self.advertised(), self.wanted)
        self._note_conflicts(tags.conflicts)
        for group in tagsync.groups(tags.missing_there):
            for pushed in self.git.push(self.remote, tagsync.refspecs(group)):
                name = pushed.dst[len(TAGS_PREFIX):]
                if pushed.ok:
                    self.result.tags_pushed.append(name)
                elif "already exists" in pushed.reason or "fetch first" in pushed.reason:
                    self._note_conflicts([name])  # someone pushed another tag of that name
                else:
                    raise SyncError(f"{self.remote.name} refused tag {name}: "
                                    f"{pushed.summary} ({pushed.reason})")

    def _note_conflicts(self, names: list[str]) -> None:
        for name in names:
            if name not in self.result.tag_conflicts:
                self.result.tag_conflicts.append(name)
