"""The HTML pages, rendered on the server with Jinja2 (autoescape on: every name, tag, param
and artifact byte is user data and is shown as text)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ledger.errors import LedgerError
from ledger.registry.lineage import lineage
from ledger.serve.ui import audit, previews
from ledger.serve.ui.service import Service, to_int

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["clock"] = clock
    env.filters["num"] = number
    env.filters["size"] = size
    env.filters["diffclass"] = diff_class
    return env


def clock(ms: int | None) -> str:
    if not ms:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if value == value else "NaN"
    return "" if value is None else str(value)


def size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def diff_class(line: str) -> str:
    if line.startswith(("+++", "---", "diff ", "index ")):
        return "meta"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")


class Pages:
    def __init__(self, service: Service, guard: Any) -> None:
        self.service = service
        self.guard = guard
        self.env = environment()

    def render(self, request: Request, template: str, status: int = 200,
               **context: Any) -> HTMLResponse:
        session = request.scope.get("state", {}).get("session", "")
        html = self.env.get_template(template).render(
            token=self.guard.token(session), writable=not self.service.read_only,
            path=request.url.path, **context)
        return HTMLResponse(html, status_code=status,
                            headers={"cache-control": "no-store"})

    def error(self, request: Request, exc: LedgerError, status: int = 404) -> HTMLResponse:
        return self.render(request, "error.html", status=status, message=str(exc))

    async def experiments(self, request: Request) -> HTMLResponse:
        found = await self.service.call(self.service.ledger.experiments)
        return self.render(request, "experiments.html", experiments=found,
                           total=sum(e["runs"] for e in found))

    async def runs(self, request: Request) -> HTMLResponse:
        q = request.query_params
        return self.render(request, "runs.html", experiment=q.get("experiment", ""),
                           where=q.get("where", ""), sort=q.get("sort", "start_time"),
                           desc=q.get("desc", "1"), cols=q.get("cols", ""),
                           deleted=q.get("deleted", "0"))

    async def run(self, request: Request) -> HTMLResponse:
        lg = self.service.ledger
        try:
            run = await self.service.call(lg.get_run, request.path_params["run_id"])
            patch, packages = await self.service.call(self.service.run_files, run.id)
            chain = await self.service.call(lineage, lg, run.id)
        except LedgerError as exc:
            return self.error(request, exc)
        return self.render(request, "run.html", run=run, patch=patch, packages=packages,
                           patch_lines=(patch or "").splitlines()[:5000], lineage=chain)

    async def artifact(self, request: Request) -> HTMLResponse:
        rid, path = request.path_params["run_id"], request.path_params["path"]
        try:
            run = await self.service.call(self.service.ledger.get_run, rid)
            data = await self.service.call(self.service.ledger.read_artifact, run.id, path)
        except LedgerError as exc:
            return self.error(request, exc)
        shown = previews.preview(path, data)
        return self.render(request, "artifact.html", run=run, artifact=path, size=len(data),
                           preview=shown)

    async def chart(self, request: Request) -> HTMLResponse:
        q = request.query_params
        return self.render(request, "chart.html", runs=q.get("runs", ""), key=q.get("key", ""))

    async def compare(self, request: Request) -> HTMLResponse:
        ids = [r for r in request.query_params.get("runs", "").split(",") if r]
        try:
            found = await self.service.call(self.service.compare, ids)
        except LedgerError as exc:
            return self.error(request, exc, 400)
        return self.render(request, "compare.html", **found,
                           ids=",".join(r.id for r in found["runs"]))

    async def models(self, request: Request) -> HTMLResponse:
        from ledger.registry.api import list_models

        found = await self.service.git(list_models, repo=self.service.ledger.path)
        return self.render(request, "models.html", models=found)

    async def model(self, request: Request) -> HTMLResponse:
        from ledger.registry.api import model_history, show_model

        repo = self.service.ledger.path
        name = request.path_params["name"]
        try:
            versions = await self.service.git(show_model, name, repo=repo)
            history = await self.service.git(model_history, name, repo=repo)
        except LedgerError as exc:
            return self.error(request, exc)
        verdicts, note = await self.service.git(signatures, repo, name)
        return self.render(request, "model.html", name=name, versions=versions,
                           history=history, verdicts=verdicts, verify_note=note)

    async def audit(self, request: Request) -> HTMLResponse:
        skip = to_int(request.query_params.get("skip"), 0)
        entries, more = await self.service.git(audit.read, self.service.ledger.path, skip)
        return self.render(request, "audit.html", entries=entries, skip=skip, more=more,
                           page=100)


def signatures(repo: Path, model: str) -> tuple[dict[str, Any], str]:
    """`ledger verify --all` for the tags of one model: tag -> verdict, and a note when the
    verification itself could not run (no allowed-signers file configured, ...)."""
    from ledger.registry.policy import verify_tags
    from ledger.registry.tags import parse_tag

    try:
        results = verify_tags(all_tags=True, repo=repo)
    except LedgerError as exc:
        return {}, str(exc)
    mine = {}
    for result in results:
        parsed = parse_tag(result.tag)
        if parsed is not None and parsed.model == model:
            mine[result.tag] = result
    return mine, ""
