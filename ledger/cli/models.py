"""`ledger model serve | predict | dockerfile`: serving and batch scoring of logged models.

Attached to the `model` group of ledger/cli/registry.py (and so to its alias `ledger models`).
"""

from __future__ import annotations

import click

from ledger.cli.options import repo_option

URI_HELP = "a model folder, runs:/RUN/PATH or models:/NAME@vX.Y.Z|@latest|#STAGE|@ALIAS"


@click.command()
@repo_option
@click.argument("model_uri", metavar="URI")
@click.option("--host", envvar="LEDGER_SERVE_HOST", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every interface).")
@click.option("-p", "--port", envvar="LEDGER_SERVE_PORT", type=int, default=5000,
              show_default=True, help="The port (0: any free port).")
@click.option("-w", "--workers", envvar="LEDGER_SERVE_WORKERS", type=click.IntRange(1, 256),
              default=1, show_default=True, help="Worker processes.")
@click.option("--max-body", type=click.IntRange(1), default=64 * 1024 * 1024,
              show_default=True, help="The largest request body accepted, in bytes.")
def serve(repo: str | None, model_uri: str, host: str, port: int, workers: int,
          max_body: int) -> None:
    """Serve a model with MLflow's scoring protocol (/invocations, /ping, /metrics…)."""
    from ledger.serve.scoring import serve as run

    def ready(address: str, bound: int) -> None:
        click.echo(f"serving {model_uri} on http://{address}:{bound} ({workers} worker"
                   f"{'s' if workers > 1 else ''})", err=True)

    run(model_uri, host=host, port=port, workers=workers, body_limit=max_body, repo=repo,
        on_ready=ready)


@click.command()
@repo_option
@click.argument("model_uri", metavar="URI")
@click.option("-i", "--input", "src", required=True, type=click.Path(dir_okay=False,
              exists=True), help="CSV, JSON, JSON Lines or Parquet (by extension).")
@click.option("-o", "--output", "dst", required=True, type=click.Path(dir_okay=False),
              help="Where to write the predictions (format by extension).")
@click.option("--input-format", type=click.Choice(["csv", "json", "jsonl", "parquet"]),
              default=None, help="The input format, if the extension does not tell.")
@click.option("--output-format", type=click.Choice(["csv", "json", "jsonl", "parquet"]),
              default=None, help="The output format, if the extension does not tell.")
@click.option("--batch-rows", type=click.IntRange(1), default=10_000, show_default=True,
              help="Rows scored at a time.")
def predict(repo: str | None, model_uri: str, src: str, dst: str, input_format: str | None,
            output_format: str | None, batch_rows: int) -> None:
    """Score a file with a model, batch by batch; prints the output path."""
    from ledger.models.batch import predict_file
    from ledger.models.pyfunc import load_model

    model = load_model(model_uri, repo=repo)
    done = predict_file(model, src, dst, input_format=input_format,
                        output_format=output_format, batch_rows=batch_rows)
    click.echo(f"{done.rows} predictions in {done.batches} batch(es)", err=True)
    click.echo(done.output)


@click.command()
@repo_option
@click.argument("model_uri", metavar="URI")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="The folder to write the build context into.")
@click.option("--ledger-spec", default="ledger[serve]", show_default=True,
              help="What pip installs for the ledger (a name, a path or a VCS URL).")
@click.option("-w", "--workers", type=click.IntRange(1, 256), default=2, show_default=True)
def dockerfile(repo: str | None, model_uri: str, output: str, ledger_spec: str,
               workers: int) -> None:
    """Write a Dockerfile and build context that serve a model; prints the folder."""
    from ledger.models.docker import write_context
    from ledger.models.uri import locate

    done = write_context(locate(model_uri, repo).folder, output, ledger_spec=ledger_spec,
                         workers=workers)
    click.echo(done.folder)


COMMANDS = (serve, predict, dockerfile)
