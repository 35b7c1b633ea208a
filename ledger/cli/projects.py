"""`ledger run` (an MLflow Project as a run), `ledger reproduce` (rerun a run and compare) and
`ledger lineage` (commit + inputs -> run -> model versions -> stages)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ledger.cli import render
from ledger.cli.options import fmt_of, format_option, open_ledger, repo_option


@click.command(name="run")
@repo_option
@click.argument("uri", default=".")
@click.option("-e", "--entry-point", default="main", show_default=True)
@click.option("-P", "--param", "params", multiple=True, metavar="K=V",
              help="A parameter of the entry point (repeat).")
@click.option("--env-manager", type=click.Choice(["local", "virtualenv", "uv", "conda"]),
              default="local", show_default=True)
@click.option("--experiment", default=None)
@click.option("--name", "-n", default=None)
@click.option("--version", "version", default=None, help="Branch, tag or commit of a git URL.")
def run(repo: str | None, uri: str, entry_point: str, params: tuple[str, ...],
        env_manager: str, experiment: str | None, name: str | None,
        version: str | None) -> None:
    """Run an MLflow Project (PATH or GIT URL) as one run; prints the run id, exits with the
    command's exit code."""
    from ledger.projects.mlproject import parse_params
    from ledger.projects.run import run_project

    done = run_project(open_ledger(repo), uri, entry_point, parse_params(params), env_manager,
                       experiment, name, version)
    click.echo(done.run_id)
    sys.exit(done.exit_code)


@click.command()
@repo_option
@click.argument("run_id")
@click.option("--rtol", type=float, default=1e-6, show_default=True,
              help="Relative tolerance of each metric.")
@click.option("--atol", type=float, default=0.0, show_default=True,
              help="Absolute tolerance of each metric.")
@click.option("--keep", is_flag=True, help="Keep the temporary worktree (its path is shown).")
@format_option
def reproduce(repo: str | None, run_id: str, rtol: float, atol: float, keep: bool,
              fmt: str | None) -> None:
    """Rerun RUN_ID from its record (commit, dirty patch, inputs, argv) as a new run and
    compare its metrics: exit 0 when all agree within tolerance, 1 otherwise."""
    from ledger.projects.reproduce import reproduce as rerun

    done = rerun(open_ledger(repo), run_id, rtol, atol, keep)
    rows = [{"metric": m.key, "recorded": m.recorded, "rerun": m.rerun,
             "difference": m.difference, "agrees": "yes" if m.ok else "NO"}
            for m in done.metrics]
    fmt = fmt_of(fmt)
    click.echo(render.rows(rows, ["metric", "recorded", "rerun", "difference", "agrees"], fmt,
                           json_data=done.to_dict()))
    if fmt != "json":
        for line in done.environment:
            click.echo(f"environment differs: {line}", err=True)
        if done.worktree:
            click.echo(f"worktree kept at {done.worktree} (remove with "
                       f"`git worktree remove {done.worktree}`)", err=True)
    click.echo(f"new run {done.new_run_id} (tagged ledger.reproduces={done.run_id})", err=True)
    if not done.ok:
        click.echo(f"not reproduced: {', '.join(done.differs)} differ(s)", err=True)
        sys.exit(1)


@click.command()
@repo_option
@click.argument("ref")
@format_option
def lineage(repo: str | None, ref: str, fmt: str | None) -> None:
    """The chain of a run or model (NAME@vX.Y.Z, NAME#STAGE): source commit + inputs -> run
    -> model versions -> stages."""
    from ledger.registry.lineage import lineage as chain

    found = chain(open_ledger(repo), ref).to_dict()
    if fmt_of(fmt) == "json":
        click.echo(render.to_json(found))
    else:
        click.echo(_text(found))


def _text(found: dict[str, Any]) -> str:
    src = found["source"]
    dirty = " (dirty)" if src.get("dirty") else ""
    lines = [f"commit  {src.get('commit') or '(none)'}{dirty}"
             + (f" on {src['branch']}" if src.get("branch") else "")]
    for item in found["inputs"]:
        lines.append(f"input   {item['path']}  {item['digest']}  {item['size']} bytes")
    run = found["run"]
    metrics = ", ".join(f"{k}={render.cell(v)}" for k, v in run["metrics"].items())
    lines.append(f"run     {run['id']}  {run['name']} ({run['experiment']}) {run['status']}"
                 + (f"  {metrics}" if metrics else ""))
    for link in found["models"]:
        stages = ", ".join(link["stages"]) or "no stage"
        gone = " (deregistered)" if link["deregistered"] else ""
        lines.append(f"model   {link['model']}@{link['version']}{gone}  -> {stages}")
    return "\n".join(lines)


COMMANDS = (run, reproduce, lineage)
