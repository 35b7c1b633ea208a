"""`ledger log` without click: the command shell scripts call once per run starts in the time
of the library's own imports.

The options of `ledger log` are declared once, here; the click command (cli/runs.py) is made
from the same declarations, so both accept the same options with the same defaults and
environment variables. This parser takes only the plain forms of known options (`-p a=1`,
`-pa=1`, `--param a=1`, `--param=a=1`); anything else (help, an unknown or incomplete option,
an integer that is not one, an extra argument, a --repo that is a file) goes to click, which
explains it as it does for every command.
"""

from __future__ import annotations

import os
import sys
from typing import Any


class Opt:
    """One command-line option."""

    __slots__ = ("flags", "dest", "multiple", "type", "default", "metavar", "help", "envvar",
                 "folder")

    def __init__(self, flags: tuple[str, ...], dest: str, *, multiple: bool = False,
                 type: type = str, default: Any = None, metavar: str | None = None,
                 help: str | None = None, envvar: str | None = None,
                 folder: bool = False) -> None:
        self.flags = flags
        self.dest = dest
        self.multiple = multiple
        self.type = type
        self.default = default
        self.metavar = metavar
        self.help = help
        self.envvar = envvar
        self.folder = folder  # a folder's path: an existing file is refused


REPO = Opt(("--repo",), "repo", envvar="LEDGER_REPO", folder=True,
           help="The git repository (default: the one containing this folder).")

LOG_OPTIONS = (
    REPO,
    Opt(("-p", "--param"), "params", multiple=True, metavar="K=V", help="A param."),
    Opt(("-m", "--metric"), "metrics", multiple=True, metavar="K=V", help="A metric."),
    Opt(("-t", "--tag"), "tags", multiple=True, metavar="K=V", help="A tag."),
    Opt(("-a", "--artifact"), "artifacts", multiple=True, metavar="PATH[:DEST]",
        help="A file or folder to store as artifact(s)."),
    Opt(("--step",), "step", type=int, default=0, help="Step of the metrics (default 0)."),
    Opt(("--experiment", "-e"), "experiment", help="Experiment name (new runs)."),
    Opt(("--name", "-n"), "name", help="Run name (new runs)."),
    Opt(("--run",), "run_id", envvar="LEDGER_RUN_ID",
        help="Add to this run instead of recording a new one (env LEDGER_RUN_ID)."),
    Opt(("--status",), "status", help="Status to set (default FINISHED for new runs)."),
)


def parse(args: list[str], options: tuple[Opt, ...]) -> dict[str, Any] | None:
    """The values of `args` as click would give them, or None for anything but plain
    known options (click then parses them, and explains what is wrong)."""
    by_flag = {flag: opt for opt in options for flag in opt.flags}
    given: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            flag, sep, value = arg.partition("=")
            step = 1 if sep else 2
        else:
            flag, value, step = arg[:2], arg[2:], 1 if len(arg) > 2 else 2
        opt = by_flag.get(flag)
        if opt is None:
            return None
        if step == 2:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
        converted: Any = value
        if opt.type is int:
            try:
                converted = int(value)
            except ValueError:
                return None
        if opt.multiple:
            given.setdefault(opt.dest, []).append(converted)
        else:
            given[opt.dest] = converted
        i += step
    values: dict[str, Any] = {}
    for opt in options:
        found: Any = given.get(opt.dest)
        if found is None and opt.envvar:
            found = os.environ.get(opt.envvar) or None
        if opt.multiple:
            found = tuple(found or ())
        elif found is None:
            found = opt.default
        if opt.folder and found is not None and os.path.isfile(found):
            return None
        values[opt.dest] = found
    return values


def log(repo: str | None, params: tuple[str, ...], metrics: tuple[str, ...],
        tags: tuple[str, ...], artifacts: tuple[str, ...], step: int, experiment: str | None,
        name: str | None, run_id: str | None, status: str | None) -> str:
    """`ledger log`: record a complete run, or add to one (--run); the run's id."""
    from ledger.cli.values import open_ledger, pairs, pairs_list, split_artifact

    lg = open_ledger(repo)
    kw = dict(params=pairs(params, "param"), tags=pairs(tags, "tag"),
              metrics=[(k, v, step) for k, v in pairs_list(metrics, "metric")],
              artifacts=[split_artifact(a) for a in artifacts])
    if run_id:
        return str(lg.log_to(run_id, status=status, **kw))
    return str(lg.log_run(experiment, name, status=status or "FINISHED",
                          argv=["ledger", *sys.argv[1:]], **kw))


def main(args: list[str]) -> bool:
    """Run `ledger log …` here if its arguments are plain; False to leave them to click."""
    if not args or args[0] != "log":
        return False
    values = parse(args[1:], LOG_OPTIONS)
    if values is None:
        return False
    from ledger.cli.failures import guarded

    def call() -> None:
        sys.stdout.write(log(**values) + "\n")
        sys.stdout.flush()

    guarded(call, os.environ.get("LEDGER_TRACEBACK") == "1")
    return True
