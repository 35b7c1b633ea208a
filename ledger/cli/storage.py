"""`ledger storage fetch`: the large files of a folder of pointers (e.g. `git archive` of a
model version), and the upload progress bar that `ledger push` draws on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click

from ledger.cli.options import open_ledger, repo_option


@click.group()
def storage() -> None:
    """The store of large files ([storage] in ledger.toml)."""


@storage.command()
@repo_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def fetch(repo: str | None, folder: str) -> None:
    """Replace every pointer file below FOLDER by the file it stands for (verified)."""
    from ledger.storage.offload import fetch_pointers

    done = fetch_pointers(open_ledger(repo, recover=False).gitdir, folder)
    click.echo(f"{len(done)} large file(s) fetched")


def progress_bar() -> Callable[[int, int], None] | None:
    """A progress callback drawing on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def draw(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        end = "\n" if done >= total else ""
        click.echo(f"\ruploading large files [{bar:<30}] {share:4.0%} "
                   f"{done >> 20}/{total >> 20} MB{end}", nl=False, err=True)

    return draw


COMMANDS = (storage,)
