"""Run an ASGI app with uvicorn on host:port. The socket is bound first (`bind`), so that a
port in use is a clear error before anything starts and port 0 picks a free one; the app can
then be built knowing its real address."""

from __future__ import annotations

import errno
import socket
from typing import Any

from ledger.errors import LedgerError


class ServerError(LedgerError):
    """The server could not start (address in use, not available on this machine)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host is an IPv6 address)."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bare, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerError(f"port {port} on {host} is in use; choose another with --port"
                              ) from exc
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, *, log_level: str = "warning",
          **uvicorn_options: Any) -> None:
    """Serve `app` on a socket from `bind` until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                            server_header=False, date_header=False, **uvicorn_options)
    uvicorn.Server(config).run(sockets=[sock])
