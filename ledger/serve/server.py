"""Run an ASGI app on uvicorn: one process, or a pre-forked group of workers sharing one
listening socket (the app, and whatever it loaded, is built once in the parent and inherited).

Generic on purpose: the scoring server and the web UI both start through :func:`run`.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from ledger.errors import LedgerError

DEFAULT_HOST = "127.0.0.1"  # P8: nothing listens beyond this machine unless asked


class ServerError(LedgerError):
    """The server could not start (address in use, not available on this machine)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port; IPv6 for an IPv6 host). A
    port in use is one clear error before anything starts."""
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
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(app: Any, sock: socket.socket, *, workers: int = 1, log_level: str = "warning",
        on_exit: Callable[[], None] | None = None,
        on_worker_exit: Callable[[int], None] | None = None, **config: Any) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM; ``workers`` > 1 forks that many
    processes (a worker that dies is replaced; ``on_worker_exit(pid)`` hears of it)."""
    try:
        if workers <= 1:
            _serve(app, sock, log_level, config)
        else:
            _supervise(app, sock, workers, log_level, config, on_worker_exit)
    finally:
        if on_exit is not None:
            on_exit()


def _serve(app: Any, sock: socket.socket, log_level: str, config: dict[str, Any]) -> None:
    import uvicorn

    settings = {"access_log": False, "lifespan": "off", "server_header": False, **config}
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, **settings))
    server.run(sockets=[sock])


def _supervise(app: Any, sock: socket.socket, workers: int, log_level: str,
               config: dict[str, Any], on_worker_exit: Callable[[int], None] | None) -> None:
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker: uvicorn installs its own signal handlers
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                _serve(app, sock, log_level, config)
            except BaseException:
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.add(pid)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.discard(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if on_worker_exit is not None:
            on_worker_exit(pid)
        if not stopping:
            spawn()
