"""The `ledger` command (all but a plain `ledger log`, cli/quick.py): click parses the
arguments, the command modules call the library and render, failures.py maps errors.

Exit codes: 0 success, 1 a user error (one line `error: …`), 2 a usage error, 3 an unexpected
failure (`--traceback` shows it), 130 Ctrl-C. Heavy modules load inside the commands that
need them, so that `ledger log` starts fast.
"""

from __future__ import annotations

import os
import sys

import click

from ledger.cli import importer, models, projects, registry, runs, storage, sync, ui
from ledger.cli.failures import guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the traceback of unexpected errors.")
@click.version_option(package_name="ledger")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """A git-backed ML experiment ledger: runs, metrics, artifacts and models in git."""
    ctx.obj = {"traceback": traceback}


for _command in (*runs.COMMANDS, *sync.COMMANDS, registry.model, registry.registry,
                 registry.verify, *projects.COMMANDS, *storage.COMMANDS, *ui.COMMANDS,
                 *importer.COMMANDS):
    cli.add_command(_command)
for _command in models.COMMANDS:
    registry.model.add_command(_command)
cli.add_command(registry.model, name="models")  # `ledger models …` = `ledger model …`


def main(argv: list[str] | None = None) -> None:
    """Entry point of every command but a plain `ledger log` (cli/quick.py): map every
    outcome to SPEC §3's exit codes."""
    args = sys.argv[1:] if argv is None else argv
    show_tb = "--traceback" in args or os.environ.get("LEDGER_TRACEBACK") == "1"

    def call() -> None:
        try:
            cli.main(args=args, prog_name="ledger", standalone_mode=False)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)

    guarded(call, show_tb)
