"""The message of a version tag: what ``git show NAME@vX.Y.Z`` tells a reader.

::

    Registering model iris version v1.2.0

    run: 0193ab8c2d0e7f5a9b1c3d4e5f607182
    source: 4b825dc642cb6eb9a060e54bf8d69288fbee4904
    manifest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    metrics.acc: 0.92
    metrics.val loss: 0.31

One ``key: value`` line each, after a blank line; ``run:`` is what the desired-state check
reads to find the metrics of a version. Unknown lines are kept out of the parsed fields, so a
message written by GTO or by hand parses to whatever fields it has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VersionInfo:
    """The fields of a version tag message (all optional when parsing)."""

    run_id: str | None = None
    source_commit: str | None = None
    manifest_digest: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def format_version_message(
    model: str, version: str, info: VersionInfo, subject: str | None = None
) -> str:
    """The message for ``NAME@vX.Y.Z``; ``subject`` (e.g. the user's ``-m``) leads it."""
    lines = [subject.strip() if subject else f"Registering model {model} version {version}", ""]
    for key, value in (
        ("run", info.run_id),
        ("source", info.source_commit),
        ("manifest", info.manifest_digest),
    ):
        if value:
            lines.append(f"{key}: {value}")
    lines += [f"metrics.{k}: {_number(v)}" for k, v in sorted(info.metrics.items())]
    return "\n".join(lines) + "\n"


def parse_version_message(message: str) -> VersionInfo:
    """The fields found in a version tag message; missing ones are None or empty."""
    fields: dict[str, str] = {}
    metrics: dict[str, float] = {}
    for line in message.splitlines():
        if line.startswith("metrics."):
            key, sep, value = line[len("metrics.") :].rpartition(": ")
            try:
                if sep and key:
                    metrics[key] = float(value)
            except ValueError:
                continue
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if sep and value and key in ("run", "source", "manifest"):
            fields.setdefault(key, value)
    return VersionInfo(fields.get("run"), fields.get("source"), fields.get("manifest"), metrics)
