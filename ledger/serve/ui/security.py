"""What keeps the UI's origin safe (SPEC §10): a Host allow-list on every request (DNS
rebinding gets nothing), security headers on every response, a session cookie, and for writes
a token bound to that session plus an Origin on the same allow-list.

The middleware is plain ASGI, so that it costs nothing per request beyond the checks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

# No inline script anywhere: every script is a file served from 'self'. Inline style
# attributes are not used either (uPlot sets styles through the CSSOM, which CSP allows).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
# What an artifact's own bytes get: no script, no plugin, a unique origin, never framed.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would send `Origin: null` on POST
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def split_host(value: str) -> tuple[str, int | None]:
    """`host[:port]` of a Host header or an origin's netloc, the host lower-cased and bare."""
    try:
        parts = urlsplit(f"//{value}")
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", None


@dataclass
class Guard:
    """The allow-list and the secret the session tokens are derived from."""

    host: str
    port: int
    read_only: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def hosts(self) -> set[str]:
        return {*LOCAL_HOSTS, self.host.strip("[]").lower()}

    @property
    def cookie(self) -> str:
        # cookies ignore ports: two UIs on one machine must not overwrite each other's session
        return f"ledger_ui_{self.port}"

    def host_ok(self, value: str | None) -> bool:
        if not value:
            return False
        name, port = split_host(value)
        return name in self.hosts and port in (None, self.port)

    def origin_ok(self, origin: str | None) -> bool:
        if not origin:
            return False
        parts = urlsplit(origin)
        if parts.scheme != "http" or parts.path not in ("", "/"):
            return False
        name, port = split_host(parts.netloc)
        return name in self.hosts and (port or 80) == self.port

    def token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def token_ok(self, session: str | None, token: str | None) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.token(session), token)

    def write_refusal(self, headers: dict[str, str], session: str | None,
                      token: str | None) -> str | None:
        """Why a write request is refused, or None when it may go ahead."""
        if self.read_only:
            return "this UI is read-only (ledger ui --read-only)"
        if not self.origin_ok(headers.get("origin")):
            return "cross-site request refused: the Origin is missing or not this UI"
        if not self.token_ok(session, token):
            return "cross-site request refused: missing or wrong session token"
        return None


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def session_of(scope: dict[str, Any], cookie: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(cookie)
    return morsel.value if morsel is not None and len(morsel.value) == 43 else None


class GuardMiddleware:
    """Refuses foreign Host headers, gives each browser a session and adds the headers."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.guard.host_ok(_header(scope, b"host")):
            await _plain(send, 403, b"refused: this server answers only to its own address "
                                    b"(127.0.0.1, localhost, [::1] or its --host)\n")
            return
        session = session_of(scope, self.guard.cookie)
        fresh = None
        if session is None:
            session = fresh = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["session"] = session

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP.encode()))
                if fresh is not None:
                    cookie = (f"{self.guard.cookie}={fresh}; Path=/; HttpOnly; "
                              "SameSite=Strict")
                    headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS,
                            (b"content-security-policy", CSP.encode())]})
    await send({"type": "http.response.body", "body": body})
