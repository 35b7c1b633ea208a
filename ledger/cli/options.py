"""Options and argument helpers shared by every command module of the CLI."""


from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from ledger.cli import render

F = Callable[..., Any]


def repo_option(fn: F) -> F:
    return click.option("--repo", envvar="LEDGER_REPO", type=click.Path(file_okay=False),
                        help="The git repository (default: the one containing this folder).")(fn)


def format_option(fn: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(render.FORMATS),
                        default=None, help="Output format (table on a terminal, else json).")(fn)


def open_ledger(repo: str | None, recover: bool = True) -> Any:
    from ledger.api import Ledger

    return Ledger(repo, recover=recover)


def fmt_of(fmt: str | None) -> str:
    return fmt or render.default_format()


def pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    from ledger.errors import InvalidInputError
    from ledger.names import split_assignment

    out: dict[str, str] = {}
    for text in values:
        key, value = split_assignment(text, what)
        if what == "param" and out.get(key, value) != value:  # params are immutable
            raise InvalidInputError(f"param {key!r} is given twice ({out[key]!r} and "
                                    f"{value!r}); a param has one value")
        out[key] = value
    return out


def pairs_list(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    from ledger.names import split_assignment

    return [split_assignment(v, what) for v in values]


def split_artifact(text: str) -> tuple[str, str | None]:
    if os.path.exists(text) or ":" not in text:
        return text, None
    src, _, dest = text.rpartition(":")
    return src, dest or None


def without_pandas() -> None:
    """For commands that never hand pandas objects to pyarrow (listings, the UI): spare
    pandas' import, which pyarrow does at its first conversion (query/lean.py)."""
    from ledger.query.lean import arrow_without_pandas

    arrow_without_pandas()
