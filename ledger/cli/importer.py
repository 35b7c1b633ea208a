"""`ledger import URI`: copy an MLflow store into the ledger."""

from __future__ import annotations

import sys
from typing import Any

import click

from ledger.cli.options import open_ledger, repo_option


@click.command(name="import")
@repo_option
@click.argument("uri")
@click.option("--experiment", "experiments", multiple=True,
              help="Import only this experiment (repeatable).")
def import_(repo: str | None, uri: str, experiments: tuple[str, ...]) -> None:
    """Copy an MLflow store (./mlruns, sqlite:///mlflow.db, http://host:port) into the ledger:
    experiments, runs, metric histories, artifacts, model versions and aliases. Idempotent."""
    from ledger.mlflow_plugin.importer import import_store

    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = click.progressbar(length=total, label=f"importing {phase}",
                                                  file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    report = import_store(uri, open_ledger(repo), list(experiments) or None, progress)
    click.echo(f"{report.experiments} experiments, {report.runs_added} runs added "
               f"({report.runs_present} already present), {report.versions_added} model "
               f"versions and {report.aliases_added} aliases added")
    for line in report.skipped:
        click.echo(f"skipped: {line}", err=True)


COMMANDS = (import_,)
