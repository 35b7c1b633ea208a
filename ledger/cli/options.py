"""Options and argument helpers shared by every command module of the CLI."""


from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ledger.cli import render
from ledger.cli.quick import REPO, Opt
from ledger.cli.values import open_ledger, pairs, pairs_list, split_artifact

__all__ = ["open_ledger", "pairs", "pairs_list", "split_artifact", "click_options",
           "repo_option", "format_option", "fmt_of", "without_pandas"]

F = Callable[..., Any]


def click_options(*options: Opt) -> Callable[[F], F]:
    """click options from the declarations that cli/quick.py parses too."""
    def apply(fn: F) -> F:
        for opt in reversed(options):
            kind: Any = (click.Path(file_okay=False) if opt.folder
                         else int if opt.type is int else None)
            fn = click.option(*opt.flags, opt.dest, multiple=opt.multiple, type=kind,
                              default=opt.default, metavar=opt.metavar, help=opt.help,
                              envvar=opt.envvar)(fn)
        return fn
    return apply


repo_option = click_options(REPO)


def format_option(fn: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(render.FORMATS),
                        default=None, help="Output format (table on a terminal, else json).")(fn)


def fmt_of(fmt: str | None) -> str:
    return fmt or render.default_format()


def without_pandas() -> None:
    """For commands that never hand pandas objects to pyarrow (listings, the UI): spare
    pandas' import, which pyarrow does at its first conversion (query/lean.py)."""
    from ledger.query.lean import arrow_without_pandas

    arrow_without_pandas()
