"""Commands on runs: record (log, start, end, exec), read (show, runs, metrics, diff,
artifacts, get, experiments, export) and edit (tag, untag, delete, restore), plus init,
reindex and recover."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ledger.cli import quick, render
from ledger.cli.options import (
    click_options,
    fmt_of,
    format_option,
    open_ledger,
    pairs,
    repo_option,
    without_pandas,
)
from ledger.names import RUNS_REF


@click.command()
@repo_option
@click.option("--hooks", is_flag=True, help="Install the git hooks (pre-push) too.")
def init(repo: str | None, hooks: bool) -> None:
    """Ready the repository for the ledger (idempotent)."""
    from ledger.hooks import install

    done = install.init(open_ledger(repo), hooks=hooks)
    click.echo(f"{'created' if done.created else 'exists'} {RUNS_REF}")
    for hook in done.hooks:
        click.echo({
            "installed": f"installed hook {hook.name}",
            "unchanged": f"hook {hook.name} already installed",
            "chained": f"kept your {hook.name} hook as {hook.name}.local; it still runs first",
            "left-alone": f"hook {hook.name}: {hook.name}.local exists already; left both alone",
        }[hook.action])


@click.command()
@click_options(*quick.LOG_OPTIONS)
def log(**values: Any) -> None:
    """Record a complete run in one go, or add to a run with --run; prints the run id."""
    click.echo(quick.log(**values))


@click.command()
@repo_option
@click.option("--experiment", "-e", default=None)
@click.option("--name", "-n", default=None)
@click.option("-p", "--param", "params", multiple=True, metavar="K=V")
@click.option("-t", "--tag", "tags", multiple=True, metavar="K=V")
def start(repo: str | None, experiment: str | None, name: str | None,
          params: tuple[str, ...], tags: tuple[str, ...]) -> None:
    """Open a run; prints only its id (RUN=$(ledger start))."""
    lg = open_ledger(repo)
    click.echo(lg.create_run(experiment, name, pairs(tags, "tag"), pairs(params, "param"),
                             argv=["ledger", *sys.argv[1:]]))


@click.command()
@repo_option
@click.argument("run_id", required=False, envvar="LEDGER_RUN_ID")
@click.option("--status", default="FINISHED", help="FINISHED (default), FAILED or KILLED.")
def end(repo: str | None, run_id: str | None, status: str) -> None:
    """Close a run (default id: LEDGER_RUN_ID)."""
    run_id = run_id or os.environ.get("LEDGER_RUN_ID")
    if not run_id:
        raise click.UsageError("give a run id, or set LEDGER_RUN_ID")
    click.echo(open_ledger(repo).set_terminated(run_id, status))


@click.command(name="exec", context_settings={"ignore_unknown_options": True})
@repo_option
@click.option("--experiment", "-e", default=None)
@click.option("--name", "-n", default=None)
@click.option("-t", "--tag", "tags", multiple=True, metavar="K=V")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(repo: str | None, experiment: str | None, name: str | None, tags: tuple[str, ...],
          command: tuple[str, ...]) -> None:
    """Run a command as a run: exit 0 is FINISHED, other codes FAILED, a signal KILLED."""
    from ledger.runs.execute import run_command

    rid, code = run_command(open_ledger(repo), command, experiment, name, pairs(tags, "tag"))
    click.echo(rid, err=True)
    sys.exit(code)


@click.command()
@repo_option
@format_option
@click.argument("run_id")
def show(repo: str | None, fmt: str | None, run_id: str) -> None:
    """One run: info, params, latest metrics, tags, source, inputs, artifacts."""
    without_pandas()
    click.echo(render.record(open_ledger(repo).get_run(run_id).to_dict(), fmt_of(fmt)))


@click.command()
@repo_option
@format_option
@click.option("--experiment", "-e", default=None)
@click.option("--where", "-w", default=None, help="Filter, e.g. \"metrics.acc > 0.9\".")
@click.option("--sort", "-s", "order_by", multiple=True, help="e.g. \"metrics.acc DESC\".")
@click.option("--limit", "-l", type=click.IntRange(min=0), default=None)
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted runs.")
def runs(repo: str | None, fmt: str | None, experiment: str | None, where: str | None,
         order_by: tuple[str, ...], limit: int | None, include_deleted: bool) -> None:
    """List runs, newest first."""
    without_pandas()
    fmt = fmt_of(fmt)
    lg = open_ledger(repo)
    if fmt == "json":
        found = lg.find_runs(where, experiment, list(order_by), limit, include_deleted)
        click.echo(render.to_json([r.to_dict() for r in found]))
        warn_damaged(lg)
        return
    tbl = lg.search_runs(where, experiment, list(order_by), limit, include_deleted)
    columns = [c for c in tbl.column_names if fmt == "csv" or c not in ("user", "source.commit")]
    click.echo(render.rows(tbl.to_pylist(), columns, fmt))
    warn_damaged(lg)


def warn_damaged(lg: Any) -> None:
    """One line per committed run that listings skip because its record is damaged."""
    for rid in lg.damaged_runs():
        click.echo(f"warning: run {rid} is damaged (its run.json cannot be read) and is "
                   "skipped", err=True)


@click.command()
@repo_option
@format_option
@click.argument("args", nargs=-1, required=True, metavar="RUN... [KEY]")
@click.option("--key", "-k", "keys", multiple=True, help="A metric key (repeatable).")
def metrics(repo: str | None, fmt: str | None, args: tuple[str, ...],
            keys: tuple[str, ...]) -> None:
    """Metric histories of one or more runs (a last argument that is no run is a KEY)."""
    without_pandas()
    lg = open_ledger(repo)
    runs, key = lg.split_runs_and_key(args)
    table = lg.get_metric_history(runs, keys=[*keys, *([key] if key else [])] or None)
    columns = table.column_names if len(runs) > 1 else ["key", "step", "timestamp", "value"]
    click.echo(render.rows(table.to_pylist(), columns, fmt_of(fmt)))


@click.command()
@repo_option
@format_option
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--all", "all_keys", is_flag=True, help="Show equal values too.")
def diff(repo: str | None, fmt: str | None, run_ids: tuple[str, ...], all_keys: bool) -> None:
    """Params, metrics and tags of runs side by side (differences only by default)."""
    lg = open_ledger(repo)
    ids = [lg.resolve(r) for r in run_ids]
    found = lg.diff(ids, all_keys)
    data = [{"key": row["key"], **{i[:12]: v for i, v in zip(ids, row["values"])}}
            for row in found]
    click.echo(render.rows(data, ["key", *(i[:12] for i in ids)], fmt_of(fmt), json_data=found))


@click.command()
@repo_option
@format_option
@click.argument("run_id")
def artifacts(repo: str | None, fmt: str | None, run_id: str) -> None:
    """List the artifacts of a run."""
    found = open_ledger(repo).list_artifacts(run_id)
    click.echo(render.rows(found, ["path", "size"], fmt_of(fmt)))


@click.command()
@repo_option
@click.argument("run_id")
@click.argument("path")
@click.option("-o", "--output", default=None, help="Write here (default: stdout for a file).")
def get(repo: str | None, run_id: str, path: str, output: str | None) -> None:
    """Fetch an artifact (or a folder of them with -o), byte for byte."""
    lg = open_ledger(repo)
    if output is None:
        lg.copy_artifact(run_id, path, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        click.echo(lg.save_artifact(run_id, path, output))


@click.command()
@repo_option
@click.argument("run_id")
@click.argument("assignments", nargs=-1, required=True, metavar="K=V...")
def tag(repo: str | None, run_id: str, assignments: tuple[str, ...]) -> None:
    """Set tags of a run."""
    click.echo(open_ledger(repo).set_run_tags(run_id, pairs(assignments, "tag")))


@click.command()
@repo_option
@click.argument("run_id")
@click.argument("keys", nargs=-1, required=True)
def untag(repo: str | None, run_id: str, keys: tuple[str, ...]) -> None:
    """Delete tags of a run."""
    click.echo(open_ledger(repo).delete_run_tags(run_id, keys))


@click.command()
@repo_option
@click.argument("run_id")
def delete(repo: str | None, run_id: str) -> None:
    """Soft-delete a run (history keeps it; `restore` undoes it)."""
    click.echo(open_ledger(repo).delete_run(run_id))


@click.command()
@repo_option
@click.argument("run_id")
def restore(repo: str | None, run_id: str) -> None:
    """Undo a delete."""
    click.echo(open_ledger(repo).restore_run(run_id))


@click.command()
@repo_option
@format_option
def experiments(repo: str | None, fmt: str | None) -> None:
    """Experiments with their run counts."""
    lg = open_ledger(repo)
    found = lg.experiments()
    click.echo(render.rows(found, ["name", "runs", "deleted", "last_start_time"], fmt_of(fmt)))
    warn_damaged(lg)


@click.command()
@repo_option
def reindex(repo: str | None) -> None:
    """Rebuild the Parquet snapshot of the run table (normally kept current by itself)."""
    lg = open_ledger(repo)
    click.echo(f"{lg.reindex()} runs indexed")
    warn_damaged(lg)


@click.command()
@repo_option
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted runs.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in FOLDER.")
def export(repo: str | None, folder: str, include_deleted: bool, overwrite: bool) -> None:
    """Write the run table and metric histories as Parquet datasets (for DuckDB, Polars…)."""
    counts = open_ledger(repo).export(folder, include_deleted, overwrite)
    click.echo(f"{counts['runs']} runs, {counts['metric_points']} metric points -> {folder}")


@click.command()
@repo_option
def recover(repo: str | None) -> None:
    """Commit the runs of processes that died (every command also does this), and list the
    damaged journals set aside in .git/ledger/journal/quarantine/."""
    lg = open_ledger(repo, recover=False)
    for rid in lg.recover():
        click.echo(rid)
    for found in lg.set_aside():
        click.echo(f"set aside: {found.path} (run {found.run_id}): {found.reason}; "
                   "nothing else reads it: inspect it if you wish, then delete it", err=True)


COMMANDS = (init, log, start, end, exec_, show, runs, metrics, diff, artifacts, get, tag, untag,
            delete, restore, experiments, reindex, export, recover)
