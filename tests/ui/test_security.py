"""`ledger ui` over plain HTTP: the Host allow-list, writes guarded by a session token and an
Origin check, --read-only, security headers, and artifact routes that serve only what the run
holds (and never as something a browser would run)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.conftest import Server
from tests.ui.conftest import UiRepo

pytestmark = pytest.mark.slow


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def request(server: Server, method: str, path: str, headers: dict[str, str] | None = None,
            body: str | None = None) -> Reply:
    """One request, the path sent exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        all_headers = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def session(server: Server, run_id: str) -> tuple[str, str]:
    """A browser's session: its cookie and the token its pages carry."""
    page = request(server, "GET", f"/runs/{run_id}")
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.body)
    return cookie, token.group(1) if token else ""


def tags_of(repo: UiRepo, run_id: str) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-m", "ledger.cli", "show", run_id, "--format",
                           "json"], cwd=repo.path, env=repo.env, capture_output=True, text=True)
    return dict(json.loads(proc.stdout)["tags"])


def test_only_its_own_host_names_get_an_answer(ui: Server) -> None:
    for host in (f"127.0.0.1:{ui.port}", f"localhost:{ui.port}", f"[::1]:{ui.port}",
                 "127.0.0.1"):
        assert request(ui, "GET", "/", {"Host": host}).status == 200, host
    for host in (f"evil.example:{ui.port}", "evil.example", f"127.0.0.1:{ui.port + 1}",
                 f"127.0.0.1.nip.io:{ui.port}", ""):
        reply = request(ui, "GET", "/", {"Host": host})
        assert reply.status == 403, host
        assert "ledger" not in reply.body.lower() or "refused" in reply.body


def test_security_headers(ui: Server) -> None:
    headers = request(ui, "GET", "/runs").headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    script = request(ui, "GET", "/static/vendor/uPlot.iife.min.js")
    assert script.status == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    assert script.headers["x-content-type-options"] == "nosniff"


def test_a_write_needs_the_session_token_and_its_origin(ui: Server, ui_repo: UiRepo) -> None:
    rid = ui_repo.ids["sweep-1"]
    cookie, token = session(ui, rid)
    other_cookie, other_token = session(ui, rid)
    origin = f"http://127.0.0.1:{ui.port}"
    form = urlencode({"key": "csrf", "value": "yes", "token": token})
    path = f"/runs/{rid}/tag"
    refused = [
        {"Cookie": cookie},  # no Origin
        {"Cookie": cookie, "Origin": "http://evil.example"},
        {"Cookie": cookie, "Origin": f"http://127.0.0.1:{ui.port + 1}"},
        {"Cookie": cookie, "Origin": "null"},
        {"Cookie": other_cookie, "Origin": origin},  # the token of another session
        {"Origin": origin},  # no session at all
        {"Cookie": cookie, "Origin": origin, "Host": f"evil.example:{ui.port}"},
    ]
    for headers in refused:
        assert request(ui, "POST", path, headers, form).status == 403, headers
    no_token = urlencode({"key": "csrf", "value": "yes"})
    assert request(ui, "POST", path, {"Cookie": cookie, "Origin": origin}, no_token
                   ).status == 403
    assert other_token != token
    assert "csrf" not in tags_of(ui_repo, rid)

    done = request(ui, "POST", path, {"Cookie": cookie, "Origin": origin}, form)
    assert done.status == 303 and done.headers["location"] == f"/runs/{rid}"
    assert tags_of(ui_repo, rid)["csrf"] == "yes"
    untag = urlencode({"key": "csrf", "token": token})
    assert request(ui, "POST", f"/runs/{rid}/untag", {"Cookie": cookie, "Origin": origin},
                   untag).status == 303
    assert "csrf" not in tags_of(ui_repo, rid)
    bad = urlencode({"key": "bad key!", "value": "x", "token": token})
    assert request(ui, "POST", path, {"Cookie": cookie, "Origin": origin}, bad).status == 400


def test_read_only_refuses_every_write(ui_read_only: Server, ui_repo: UiRepo) -> None:
    rid = ui_repo.ids["sweep-2"]
    cookie, token = session(ui_read_only, rid)
    assert token == ""  # no form carries one: there is nothing to submit
    page = request(ui_read_only, "GET", f"/runs/{rid}", {"Cookie": cookie})
    assert 'method="post"' not in page.body
    origin = f"http://127.0.0.1:{ui_read_only.port}"
    for action in ("tag", "untag", "delete", "restore"):
        form = urlencode({"key": "team", "value": "x", "token": "0" * 64})
        reply = request(ui_read_only, "POST", f"/runs/{rid}/{action}",
                        {"Cookie": cookie, "Origin": origin}, form)
        assert reply.status == 403 and "read-only" in reply.body
    assert tags_of(ui_repo, rid) == {"team": "vision"}


def test_artifacts_serve_only_what_the_run_holds(ui: Server, ui_repo: UiRepo) -> None:
    rid = ui_repo.ids["baseline"]
    png = request(ui, "GET", f"/raw/{rid}/plot.png")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["content-security-policy"].startswith("sandbox")
    for path in (f"/raw/{rid}/../run.json", f"/raw/{rid}/%2e%2e/run.json",
                 f"/raw/{rid}/..%2frun.json", f"/raw/{rid}/missing.txt",
                 f"/raw/{rid}//etc/passwd", f"/runs/{rid}/artifacts/..%2F..%2Frun.json",
                 f"/raw/{ui_repo.ids['sweep-0']}/notes.txt"):
        reply = request(ui, "GET", path)
        assert reply.status in (400, 404), path
        assert "params" not in reply.body and "root:" not in reply.body


def test_filter_errors_name_the_position(ui: Server) -> None:
    reply = request(ui, "GET", "/api/runs?" + urlencode({"where": "metrics.acc > AND"}))
    assert reply.status == 400
    found = json.loads(reply.body)
    assert found["position"] == 15 and "^" in found["caret"]


def test_a_port_in_use_is_a_one_line_error(ui: Server, ui_repo: UiRepo) -> None:
    proc = subprocess.run([sys.executable, "-m", "ledger.cli", "ui", "--port", str(ui.port)],
                          cwd=ui_repo.path, env=ui_repo.env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "in use" in proc.stderr
