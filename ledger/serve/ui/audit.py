"""The audit log: `git log refs/ledger/runs`, one entry per commit, each line linked to its
run. Read with the real git binary (what a user sees with plain git)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ledger.store.git import run_git

RUNS_REF = "refs/ledger/runs"
_EVENT = re.compile(r"^run ([0-9a-f]{32}) (\S+)")
_FIELDS = "%H%x1f%at%x1f%an%x1f%P%x1f%B%x1e"


@dataclass(frozen=True)
class Line:
    text: str
    run_id: str | None  # the run the line is about, when it names one
    event: str | None


@dataclass(frozen=True)
class Entry:
    commit: str
    time: int  # ms since the epoch
    author: str
    merge: bool
    lines: list[Line]


def read(repo: Path, skip: int = 0, limit: int = 100) -> tuple[list[Entry], bool]:
    """`limit` entries after the newest `skip`, and whether older ones exist."""
    proc = run_git(repo, ["log", f"--format={_FIELDS}", f"--skip={skip}", f"-n{limit + 1}",
                          RUNS_REF, "--"], check=False)
    if proc.returncode != 0:  # no runs yet: the ref does not exist
        return [], False
    records = [r for r in proc.stdout.decode("utf-8", "replace").split("\x1e") if r.strip()]
    entries = [_entry(r) for r in records[:limit]]
    return entries, len(records) > limit


def _entry(record: str) -> Entry:
    commit, at, author, parents, body = record.lstrip("\n").split("\x1f", 4)
    lines = []
    for text in body.strip().splitlines():
        if not text.strip():
            continue
        found = _EVENT.match(text)
        lines.append(Line(text, found.group(1) if found else None,
                          found.group(2).rstrip(":") if found else None))
    return Entry(commit, int(at) * 1000, author, len(parents.split()) > 1, lines)
