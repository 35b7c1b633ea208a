"""Tracking URIs of the drop-in module: `ledger:///abs/repo`, `ledger:rel/repo`, a plain path,
or `file:`; none set means LEDGER_REPO or the current folder's repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ledger.errors import InvalidInputError

_state: dict[str, str | None] = {"uri": None}
_ARTIFACTS = re.compile(r"^(?P<repo>.*?)/runs/(?P<run>[0-9a-f]{32})/artifacts(?:/(?P<path>.*))?$")


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    _state["uri"] = None if uri is None else os.fspath(uri)


def get_tracking_uri() -> str:
    uri = _state["uri"]
    if uri:
        return uri if ":" in uri.split("/", 1)[0] else f"ledger:{uri}"
    return f"ledger://{Path(os.environ.get('LEDGER_REPO') or os.getcwd()).resolve().as_posix()}"


def repo_path(uri: str | None = None) -> str:
    """The repository folder a tracking URI names."""
    text = uri if uri is not None else _state["uri"]
    if not text:
        return os.environ.get("LEDGER_REPO") or os.getcwd()
    for scheme in ("ledger://", "ledger:", "file://", "file:"):
        if text.startswith(scheme):
            return text[len(scheme):] or "."
    if "://" in text or text.startswith(("databricks", "sqlite:")):
        raise InvalidInputError(
            f"tracking URI {text!r} is not a ledger: use ledger:///path/to/repo or a folder "
            "(to copy an MLflow store in, run `ledger import`)")
    return text


def split_artifact_uri(uri: str) -> tuple[str, str, str]:
    """`ledger:///repo/runs/<id>/artifacts/a/b` -> (repo folder, run id, "a/b")."""
    m = _ARTIFACTS.match(repo_path(uri))
    if m is None:
        raise InvalidInputError(f"{uri!r} is not a ledger artifact URI "
                                "(ledger:///path/to/repo/runs/<run id>/artifacts/...)")
    return m.group("repo") or "/", m.group("run"), (m.group("path") or "").strip("/")
