"""`ledger pull`, `ledger push` and `ledger sync`: share the ledger with a git remote."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ledger.cli.options import (
    open_ledger,
    repo_option,
)
from ledger.names import RUNS_REF


@click.command()
@repo_option
@click.argument("remote", default="origin")
def pull(repo: str | None, remote: str) -> None:
    """Fetch the ledger (runs, model tags) from REMOTE (default origin) and merge it in."""
    share("pull", repo, remote)


@click.command()
@repo_option
@click.argument("remote", default="origin")
def push(repo: str | None, remote: str) -> None:
    """Push the ledger (runs, model tags) to REMOTE; merges and retries if it moved."""
    share("push", repo, remote)


@click.command()
@repo_option
@click.argument("remote", default="origin")
def sync(repo: str | None, remote: str) -> None:
    """Pull, then push until it lands: afterwards REMOTE and this clone agree."""
    share("sync", repo, remote)


def share(action: str, repo: str | None, remote: str) -> None:
    """Run pull, push or sync; REMOTE is a configured remote, a URL or a path."""
    from ledger.cli.storage import progress_bar
    from ledger.errors import SyncError
    from ledger.sync import share as sharing

    options = sharing.Options(interactive=sys.stdin.isatty()
                              and not os.environ.get("LEDGER_IN_HOOK"), progress=progress_bar())
    result = getattr(sharing, action)(open_ledger(repo), remote, options)
    for line in summary(result):
        click.echo(line)
    for bad in result.refused:
        click.echo(f"warning: run {bad.run_id} from {result.remote} was not merged: "
                   f"{bad.reason}", err=True)
    if result.tag_conflicts:
        raise SyncError(conflict_message(result))


COMMANDS = (pull, push, sync)


def summary(result: Any) -> list[str]:
    """What a pull, push or sync did, one line per part, for people."""
    lines = []
    if result.pulled:
        text = f"pull from {result.remote}: {result.pulled}"
        if result.runs_changed:
            text += f", {_runs(result.runs_changed)} added or changed"
            if result.runs_merged:
                text += f" ({result.runs_merged} merged field by field)"
        lines.append(text)
    if result.pushed:
        text = f"push to {result.remote}: {result.pushed}"
        if result.pushed == "pushed" and result.head:
            text += f" {RUNS_REF} at {result.head[:12]}"
            if result.tries > 1:
                text += f" (after {result.tries} tries: others pushed first)"
        lines.append(text)
    if result.uploaded:
        lines.append(f"large files: {result.uploaded} uploaded ({result.uploaded_bytes} bytes) "
                     "to the store")
    if result.tags_fetched or result.tags_pushed:
        lines.append(f"model tags: {len(result.tags_fetched)} fetched, "
                     f"{len(result.tags_pushed)} pushed")
    return lines


def conflict_message(result: Any) -> str:
    conflicts = result.tag_conflicts
    shown = ", ".join(conflicts[:5]) + (", …" if len(conflicts) > 5 else "")
    return (f"{len(conflicts)} model tag(s) differ here and on {result.remote} and were left "
            f"alone: {shown} (tags are never overwritten; delete the wrong one on one side to "
            "resolve)")


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"
