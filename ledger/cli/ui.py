"""`ledger ui`: the local web UI over the repository's ledger (SPEC §10)."""

from __future__ import annotations

import click

from ledger.cli.options import open_ledger, repo_option, without_pandas


@click.command()
@repo_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the UI answers only to it and to loopback names).")
@click.option("--port", default=5050, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--read-only", is_flag=True, help="Offer no write action; refuse every write.")
def ui(repo: str | None, host: str, port: int, read_only: bool) -> None:
    """Serve a web UI: runs, charts, comparisons, the model registry, the audit log."""
    from ledger.errors import LedgerError

    without_pandas()  # the UI reads Arrow tables and Parquet, never DataFrames
    try:
        from ledger.serve.server import bind, run
        from ledger.serve.ui.app import create_app
    except ImportError as exc:
        raise LedgerError(f"ledger ui needs {exc.name or 'its extra'}: "
                          "pip install 'ledger[ui]'") from exc

    lg = open_ledger(repo)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    app = create_app(lg, host=host, port=port, read_only=read_only)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"ledger ui{' (read-only)' if read_only else ''}: http://{shown}:{port}/ "
               "(Ctrl-C stops it)", err=True)
    run(app, sock)


COMMANDS = (ui,)
