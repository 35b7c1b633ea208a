"""The `ledger` command line: one module per command group over shared options
(options.py) and rendering (render.py); main.py assembles them and maps errors to exit codes."""

from __future__ import annotations

from ledger.cli.main import main as main
