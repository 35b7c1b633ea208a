"""The `ledger` command line: one module per command group over shared options
(options.py) and rendering (render.py); app.py assembles them, failures.py maps errors to
exit codes. A plain `ledger log` runs without click (quick.py): scripts call it per run."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `ledger` command."""
    args = sys.argv[1:] if argv is None else argv
    from ledger.cli import quick

    if quick.main(args):
        return
    from ledger.cli.app import main as full

    full(args)
