"""The scoring server: MLflow's protocol on starlette.

``GET /ping`` and ``/health`` (200: the model is loaded), ``GET /version``, ``POST
/invocations`` (JSON ``dataframe_split`` / ``dataframe_records`` / ``instances`` / ``inputs``,
or ``text/csv``) answering ``{"predictions": …}``, and ``GET /metrics`` (Prometheus text, every
worker counted). A bad body is a 400 with MLflow's error JSON; parsing and predicting run in a
thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ledger.errors import ModelSchemaError
from ledger.serve.metrics import Metrics, exposition

DEFAULT_PORT = 5000
DEFAULT_BODY_LIMIT = 64 * 1024 * 1024
ROUTES = {"/ping", "/health", "/version", "/invocations", "/metrics"}


class BodyTooLarge(Exception):
    pass


def error(status: int, code: str, message: str, error_class: str | None = None) -> Response:
    """MLflow's error JSON."""
    body = {"error_code": code, "message": message, "error_class": error_class or code}
    return Response(json.dumps(body), status, media_type="application/json")


def scorer(model: Any) -> Callable[[bytes, str], bytes]:
    """``score(body, content type)``: the response body, or a LedgerError to answer 400."""
    from ledger.models import payload

    schema = model.input_schema

    def score(body: bytes, mime: str) -> bytes:
        if mime == "text/csv":
            data, params = payload.parse_csv(body, schema), None
        else:
            data, params = payload.parse_json(body, schema)
        return payload.predictions_json(model.predict(data, params=params))

    return score


def create_app(model: Any, *, version: str, metrics: Metrics | None = None,
               body_limit: int = DEFAULT_BODY_LIMIT) -> Any:
    """The ASGI app serving a loaded :class:`~ledger.models.pyfunc.PyFuncModel`."""
    from ledger.models.payload import PayloadError

    score = scorer(model)

    async def ping(request: Request) -> Response:
        return Response("\n", 200, media_type="application/json")

    async def version_(request: Request) -> Response:
        return PlainTextResponse(version)

    async def invocations(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        mime, _, rest = content_type.partition(";")
        mime = mime.strip().lower()
        charset = rest.partition("charset=")[2].strip().lower() or "utf-8"
        if mime not in ("application/json", "text/csv") or charset != "utf-8":
            return PlainTextResponse(
                "This predictor only supports the following content types: "
                f"['application/json', 'text/csv'] in UTF-8. Got '{content_type}'.", 415)
        try:
            body = await read_body(request, body_limit)
        except BodyTooLarge:
            return error(413, "RESOURCE_LIMIT_EXCEEDED",
                         f"The request body is larger than the limit of {body_limit} bytes.")
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            out = await asyncio.get_running_loop().run_in_executor(None, score, body, mime)
        except PayloadError as exc:
            return error(400, "BAD_REQUEST", str(exc), "INVALID_PARAMETER_VALUE")
        except ModelSchemaError as exc:
            return error(400, "INVALID_PARAMETER_VALUE",
                         f"Failed to enforce schema of data with schema '[{model.input_schema}]'. "
                         f"Error: {exc}", "SCHEMA_ENFORCEMENT_FAILED")
        except Exception as exc:  # the model's own failure: the server goes on serving
            return error(400, "BAD_REQUEST",
                         "Encountered an unexpected error while evaluating the model. Verify "
                         "that the serialized input Dataframe is compatible with the model for "
                         f"inference. Error: {type(exc).__name__}: {exc}")
        return Response(out, 200, media_type="application/json")

    async def metrics_(request: Request) -> Response:
        text, content_type = await asyncio.get_running_loop().run_in_executor(None, exposition)
        return Response(text, 200, headers={"Content-Type": content_type})

    app = Starlette(routes=[
        Route("/ping", ping), Route("/health", ping), Route("/version", version_),
        Route("/invocations", invocations, methods=["POST"]), Route("/metrics", metrics_),
    ])
    return metrics.middleware(app, ROUTES) if metrics is not None else app


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def serve(model_uri: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          workers: int = 1, body_limit: int = DEFAULT_BODY_LIMIT, repo: Any = None,
          on_ready: Callable[[str, int], None] | None = None) -> None:
    """Load the model once, then serve it with ``workers`` processes until stopped."""
    from ledger import __version__
    from ledger.serve import metrics as prom
    from ledger.serve import server

    cleanup = prom.setup()
    try:
        from ledger.models.pyfunc import load_model

        model = load_model(model_uri, repo=repo)
        located = model.located
        info = {"uri": str(model_uri), "name": located.name or "",
                "version": located.version or "", "run_id": located.run_id or ""}
        app = create_app(model, version=__version__, metrics=prom.Metrics("ledger_serve", info),
                         body_limit=body_limit)
        sock = server.bind(host, port)
    except BaseException:
        cleanup()
        raise
    if on_ready is not None:
        on_ready(*sock.getsockname()[:2])
    server.run(app, sock, workers=workers, on_exit=cleanup, on_worker_exit=_mark_dead)


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
