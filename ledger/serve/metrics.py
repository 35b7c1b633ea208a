"""Prometheus metrics of a pre-forked server, one view across every worker: prometheus-client
in multiprocess mode (each process writes its values to files under a folder that ``/metrics``
aggregates). :func:`setup` must run before ``prometheus_client`` is first imported."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def setup() -> Callable[[], None]:
    """Point prometheus-client at a fresh folder; returns the clean-up to call at exit."""
    if "prometheus_client" in __import__("sys").modules and not os.environ.get(ENV):
        raise RuntimeError("prometheus_client was imported before metrics.setup()")
    folder = tempfile.mkdtemp(prefix="ledger-metrics-")
    os.environ[ENV] = folder
    return lambda: shutil.rmtree(folder, ignore_errors=True)


class Metrics:
    """The server's metrics: requests by route, method and status, latency, in flight."""

    def __init__(self, prefix: str, info: dict[str, str]) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(f"{prefix}_requests", "HTTP requests served",
                                ["route", "method", "status"])
        self.latency = Histogram(f"{prefix}_request_duration_seconds",
                                 "Time from request to response", ["route"],
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                          2.5, 5, 10))
        self.in_flight = Gauge(f"{prefix}_requests_in_flight", "Requests being served",
                               ["route"], multiprocess_mode="livesum")
        self.info = Gauge(f"{prefix}_model_info", "The model served (value 1)",
                          sorted(info), multiprocess_mode="max")
        self.info.labels(**info).set(1)

    def middleware(self, app: ASGIApp, routes: set[str]) -> ASGIApp:
        """An ASGI middleware that counts and times every HTTP request."""

        async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            route = scope["path"] if scope["path"] in routes else "other"
            status = [500]

            async def send_status(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            gauge = self.in_flight.labels(route)
            gauge.inc()
            start = time.perf_counter()
            try:
                await app(scope, receive, send_status)
            finally:
                gauge.dec()
                self.latency.labels(route).observe(time.perf_counter() - start)
                self.requests.labels(route, scope["method"], str(status[0])).inc()

        return wrapped


def exposition() -> tuple[bytes, str]:
    """The text of every worker's metrics, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
