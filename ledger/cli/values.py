"""Command values to library arguments, without click (cli/quick.py runs without it)."""

from __future__ import annotations

import os
from typing import Any


def open_ledger(repo: str | None, recover: bool = True) -> Any:
    from ledger.api import Ledger

    return Ledger(repo, recover=recover)


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
