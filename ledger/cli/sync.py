"""`ledger pull`, `ledger push` and `ledger sync`: share the ledger with a git remote."""

from __future__ import annotations

import os
import sys

import click

from ledger.cli.options import (
    open_ledger,
    repo_option,
)


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
    for line in result.summary():
        click.echo(line)
    if result.tag_conflicts:
        raise SyncError(result.conflict_message())


COMMANDS = (pull, push, sync)
