"""`ledger model …`, `ledger registry …` and `ledger verify`: the registry's command line.

Thin, like ledger/cli.py: parse, call ledger.registry.api / ledger.registry.policy, render. Commands
that write print only the tag names they created on stdout, so a script (or CI) can push
exactly those: `ledger registry apply --sign | sed 's|^|refs/tags/|' | xargs -n 3 git push origin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ledger.cli import render
from ledger.cli.options import fmt_of, format_option, repo_option
from ledger.errors import DesiredStateError, SignatureError

F = Callable[..., Any]


def sign_option(fn: F) -> F:
    return click.option("--sign/--no-sign", default=None,
                        help="Sign the tag (default: git's tag.gpgSign).")(fn)


def message_option(fn: F) -> F:
    return click.option("-m", "--message", default=None, help="The tag message.")(fn)


def file_option(fn: F) -> F:
    return click.option("--file", "file", type=click.Path(dir_okay=False), default=None,
                        help="The desired-state file (default: ledger.toml at the work tree "
                             "root).")(fn)


# Declared, not decorated, so that their types are known across the import cycle with cli.py.
model: click.Group = click.Group(
    "model", help="The model registry: versions and stages as git tags (GTO's format).")
registry: click.Group = click.Group(
    "registry", help="The reviewed desired state of the registry: ledger.toml.")


@model.command()
@repo_option
@click.argument("name")
@click.option("--run", "run_id", required=True, help="The run whose artifacts to register.")
@click.option("--path", default=None, help="A file or folder below the run's artifacts "
                                           "(default: all of them).")
@click.option("--version", default=None, help="The version, e.g. v1.2.0 (default: the next).")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), default=None,
              help="Which part of the highest version to raise (default: patch).")
@message_option
@sign_option
@click.option("--allow-unfinished", is_flag=True, help="Accept a run that is not FINISHED.")
def register(repo: str | None, name: str, run_id: str, path: str | None, version: str | None,
             bump: str | None, message: str | None, sign: bool | None,
             allow_unfinished: bool) -> None:
    """Register a run's artifacts as a new version NAME@vX.Y.Z; prints the tag."""
    from ledger.registry.api import register_model

    done = register_model(name, run_id, path=path, version=version, bump=bump,  # type: ignore[arg-type]
                          message=message, sign=sign, allow_unfinished=allow_unfinished,
                          repo=repo)
    click.echo(done.tag)


def stage_arguments(fn: F) -> F:
    """NAME VERSION STAGE, -m and --sign (and --repo): what promote and demote take."""
    for decorate in (sign_option, message_option, click.argument("stage"),
                     click.argument("version"), click.argument("name"), repo_option):
        fn = decorate(fn)
    return fn


@model.command()
@stage_arguments
def promote(repo: str | None, name: str, version: str, stage: str, message: str | None,
            sign: bool | None) -> None:
    """Assign STAGE to a version (tag NAME#STAGE#N); prints the tag."""
    from ledger.registry.api import promote_model

    click.echo(promote_model(name, version, stage, message=message, sign=sign, repo=repo))


@model.command()
@stage_arguments
def demote(repo: str | None, name: str, version: str, stage: str, message: str | None,
           sign: bool | None) -> None:
    """Take STAGE away from a version (tag NAME#STAGE!#N); prints the tag."""
    from ledger.registry.api import demote_model

    click.echo(demote_model(name, version, stage, message=message, sign=sign, repo=repo))


@model.command()
@repo_option
@click.argument("name")
@click.argument("version")
@message_option
@sign_option
def deregister(repo: str | None, name: str, version: str, message: str | None,
               sign: bool | None) -> None:
    """Withdraw a version (tag NAME@vX.Y.Z!); prints the tag."""
    from ledger.registry.api import deregister_model

    click.echo(deregister_model(name, version, message=message, sign=sign, repo=repo))


@model.command()
@repo_option
@click.argument("name")
@message_option
@sign_option
def deprecate(repo: str | None, name: str, message: str | None, sign: bool | None) -> None:
    """Deprecate a model (tag NAME@deprecated); prints the tag."""
    from ledger.registry.api import deprecate_model

    click.echo(deprecate_model(name, message=message, sign=sign, repo=repo))


@model.command(name="list")
@repo_option
@format_option
def list_(repo: str | None, fmt: str | None) -> None:
    """Every model: latest version, stages, number of versions."""
    from ledger.registry.api import list_models

    found = [m.to_dict() for m in list_models(repo=repo)]
    flat = [{**m, "stages": ", ".join(f"{s}={v}" for s, v in m["stages"].items())}
            for m in found]
    columns = ["name", "latest", "stages", "versions", "deprecated"]
    click.echo(render.rows(flat, columns, fmt_of(fmt), json_data=found))


@model.command()
@repo_option
@format_option
@click.argument("name")
def show(repo: str | None, fmt: str | None, name: str) -> None:
    """The versions of a model (NAME), or the one a reference points to (NAME@vX.Y.Z,
    NAME@latest, NAME#STAGE)."""
    from ledger.registry.api import show_model

    found = [v.to_dict() for v in show_model(name, repo=repo)]
    flat = [{**v, "stages": ", ".join(v["stages"])} for v in found]
    columns = ["version", "stages", "run_id", "created_time", "tagger", "signed",
               "deregistered"]
    if fmt_of(fmt) == "csv":
        columns += ["commit", "tag", "source_commit", "manifest"]
    click.echo(render.rows(flat, columns, fmt_of(fmt), json_data=found))


@model.command()
@repo_option
@format_option
@click.argument("name")
def history(repo: str | None, fmt: str | None, name: str) -> None:
    """Every registration and stage event of a model, in order (stages by their #N)."""
    from ledger.registry.api import model_history

    found = [e.to_dict() for e in model_history(name, repo=repo)]
    columns = ["event_time", "event", "version", "stage", "tag", "tagger", "signed"]
    click.echo(render.rows(found, columns, fmt_of(fmt)))


@model.command()
@repo_option
@click.argument("ref")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="The folder to write the package into.")
def get(repo: str | None, ref: str, output: str) -> None:
    """Write the package of REF (NAME@vX.Y.Z, NAME@latest, NAME#STAGE) into a folder."""
    from ledger.registry.api import get_model

    click.echo(get_model(ref, output, repo=repo))


@registry.command()
@repo_option
@file_option
def check(repo: str | None, file: str | None) -> None:
    """Check ledger.toml: schema, versions, stage order, thresholds, signatures."""
    from ledger.registry.policy import check_registry, desired_file

    problems = check_registry(file, repo=repo)
    name = desired_file(file, repo=repo).name
    for problem in problems:
        click.echo(problem)
    if problems:
        raise DesiredStateError(f"{name}: {len(problems)} problem(s), listed above")
    click.echo(f"{name}: ok")


@registry.command()
@repo_option
@format_option
@file_option
def plan(repo: str | None, fmt: str | None, file: str | None) -> None:
    """The assignment tags that apply would create."""
    from ledger.registry.policy import plan_registry

    found = [{"tag": a.tag, "model": a.model, "version": str(a.version), "stage": a.stage,
              "commit": a.commit} for a in plan_registry(file, repo=repo)]
    click.echo(render.rows(found, ["tag", "model", "version", "stage"], fmt_of(fmt)))


@registry.command()
@repo_option
@file_option
@sign_option
def apply(repo: str | None, file: str | None, sign: bool | None) -> None:
    """Check ledger.toml, then create exactly the tags that make git match it; prints them."""
    from ledger.registry.policy import apply_registry

    created = apply_registry(file, sign=sign, repo=repo)
    for tag in created:
        click.echo(tag)
    if not created:
        click.echo("nothing to apply: the registry matches the file", err=True)


@click.command(name="verify")
@repo_option
@click.option("--allowed-signers", type=click.Path(dir_okay=False), default=None,
              help="Trust list in git's allowed-signers format (default: "
                   "gpg.ssh.allowedSignersFile).")
@click.option("--all", "all_tags", is_flag=True,
              help="Verify version tags too, not only stage assignments.")
def verify_command(repo: str | None, allowed_signers: str | None, all_tags: bool) -> None:
    """Verify the signatures of registry tags; names each tag that fails."""
    from ledger.registry.policy import verify_tags

    results = verify_tags(allowed_signers, all_tags=all_tags, repo=repo)
    failed = [r for r in results if not r.ok]
    for result in failed:
        click.echo(result)
    if failed:
        raise SignatureError(f"{len(failed)} of {len(results)} registry tags failed verification")
    click.echo(f"{len(results)} registry tags verified")


verify: click.Command = verify_command
