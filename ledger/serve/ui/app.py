"""`ledger ui`: the Starlette app. Pages (pages.py), two JSON endpoints for the runs table and
the charts, artifact bytes (never run on the UI's origin), and the write actions.

    app = create_app(Ledger(repo), host="127.0.0.1", port=5050, read_only=False)
"""

from __future__ import annotations

import mimetypes
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ledger.errors import FilterSyntaxError, InvalidInputError, LedgerError
from ledger.serve.ui import previews
from ledger.serve.ui.pages import Pages
from ledger.serve.ui.security import SANDBOX_CSP, Guard, GuardMiddleware
from ledger.serve.ui.service import X_AXES, RunsQuery, Service, to_int

if TYPE_CHECKING:
    from ledger.api import Ledger

STATIC = Path(__file__).parent / "static"
MAX_FORM = 64 * 1024
ACTIONS = ("tag", "untag", "delete", "restore")


def create_app(ledger: Ledger, *, host: str = "127.0.0.1", port: int = 5050,
               read_only: bool = False, warm: bool = True) -> Any:
    """The UI as an ASGI app; requests must name `host` (or a loopback name) and `port`.
    `warm` loads the query modules and the run table in the background right away, so that
    the first page does not wait for them."""
    guard = Guard(host, port, read_only)
    service = Service(ledger, read_only)
    if warm:
        threading.Thread(target=service.warm, name="ledger-ui-warm", daemon=True).start()
    pages = Pages(service, guard)
    api = Api(service, guard, pages)
    routes = [
        Route("/", pages.experiments),
        Route("/runs", pages.runs),
        Route("/runs/{run_id}", pages.run),
        Route("/runs/{run_id}/artifacts/{path:path}", pages.artifact),
        Route("/runs/{run_id}/{action}", api.write, methods=["POST"]),
        Route("/raw/{run_id}/{path:path}", api.raw),
        Route("/chart", pages.chart),
        Route("/compare", pages.compare),
        Route("/models", pages.models),
        Route("/models/{name:path}", pages.model),
        Route("/audit", pages.audit),
        Route("/api/runs", api.runs),
        Route("/api/metrics", api.metrics),
        Mount("/static", Assets(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes)
    return GuardMiddleware(app, guard)


class Assets(StaticFiles):
    """The package's scripts and styles, revalidated on every load (a 304 when unchanged), so
    that a browser never runs an old app.js against a newer server."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        return response


class Api:
    def __init__(self, service: Service, guard: Guard, pages: Pages) -> None:
        self.service, self.guard, self.pages = service, guard, pages

    async def runs(self, request: Request) -> Response:
        q = request.query_params
        query = RunsQuery(
            experiment=q.get("experiment") or None, where=q.get("where") or None,
            sort=q.get("sort") or "start_time", descending=q.get("desc", "1") != "0",
            offset=to_int(q.get("offset"), 0), limit=to_int(q.get("limit"), 100),
            deleted=q.get("deleted") == "1",
            columns=tuple(c for c in q.get("cols", "").split(",") if c))
        try:
            page = await self.service.call(self.service.runs_page, query)
        except FilterSyntaxError as exc:
            return JSONResponse({"error": str(exc), "position": exc.position,
                                 "caret": exc.caret}, status_code=400)
        except LedgerError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(page, headers={"cache-control": "no-store"})

    async def metrics(self, request: Request) -> Response:
        q = request.query_params
        ids = [r for r in q.get("runs", "").split(",") if r][:200]
        x_axis = q.get("x", "step")
        if not ids or x_axis not in X_AXES:
            return JSONResponse({"error": "give runs=ID,... and x=step|time|relative"}, 400)
        try:
            found = await self.service.call(self.service.chart, ids, q.get("key") or None,
                                            x_axis, min(to_int(q.get("points"), 1000), 5000))
        except LedgerError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(found, headers={"cache-control": "no-store"})

    async def raw(self, request: Request) -> Response:
        """An artifact's bytes. Images (never SVG) inline; everything else as a download.
        Either way under a sandboxing CSP and nosniff, so nothing in it runs on this origin."""
        rid, path = request.path_params["run_id"], request.path_params["path"]
        try:
            data = await self.service.call(self.service.ledger.read_artifact, rid, path)
        except LedgerError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        name = path.rsplit("/", 1)[-1]
        headers = {"content-security-policy": SANDBOX_CSP, "cache-control": "no-store"}
        if previews.is_image(path):
            kind = previews.IMAGE_TYPES[previews.suffix(path)]
            headers["content-disposition"] = f"inline; filename*=UTF-8''{quote(name)}"
        else:
            guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
            kind = "application/octet-stream" if _active(guessed) else guessed
            headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
        return Response(data, media_type=kind, headers=headers)

    async def write(self, request: Request) -> Response:
        action, rid = request.path_params["action"], request.path_params["run_id"]
        if action not in ACTIONS:
            return PlainTextResponse("not found", status_code=404)
        body = await _body(request)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        session = request.scope.get("state", {}).get("session")
        token = form.get("token") or request.headers.get("x-ledger-token")
        refusal = self.guard.write_refusal(dict(request.headers), session, token)
        if refusal is not None:
            return PlainTextResponse(refusal + "\n", status_code=403)
        lg = self.service.ledger
        try:
            if action == "tag":
                key = form.get("key", "").strip()
                if not key:
                    raise InvalidInputError("give a tag key")
                done = await self.service.call(lg.set_run_tags, rid,
                                              {key: form.get("value", "")})
            elif action == "untag":
                done = await self.service.call(lg.delete_run_tags, rid, [form.get("key", "")])
            elif action == "delete":
                done = await self.service.call(lg.delete_run, rid)
            else:
                done = await self.service.call(lg.restore_run, rid)
        except LedgerError as exc:
            return self.pages.error(request, exc, 400)
        return RedirectResponse(f"/runs/{done}", status_code=303)


def _active(media_type: str) -> bool:
    return any(t in media_type for t in ("html", "svg", "xml", "javascript"))


async def _body(request: Request) -> bytes:
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_FORM:
            break
        chunks.append(chunk)
    return b"".join(chunks)
