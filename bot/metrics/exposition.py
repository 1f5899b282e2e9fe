"""Serving a registry to Prometheus: a route for the HTTP-mode app (``GET /metrics``), or a
small server of its own on ``--metrics-port`` (Socket Mode and the sandbox have no HTTP
server that Prometheus may reach)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import start_http_server as start_prometheus_server
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commands.errors import ExitCode, MigrateBotError

METRICS_PATH = "/metrics"


class MetricsPortInUseError(MigrateBotError):
    """``--metrics-port`` is taken."""

    exit_code = ExitCode.REFUSED


def metrics_route(registry: CollectorRegistry) -> Route:
    """``GET /metrics``; the scrape reads the state file, so it runs off the event loop."""

    async def scrape(_request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route(METRICS_PATH, scrape, methods=["GET"])


class MetricsServer:
    """``registry`` on ``http://host:port/metrics`` from a thread; ``stop()`` ends it."""

    def __init__(self, registry: CollectorRegistry, *, host: str, port: int) -> None:
        try:
            self._server, self._thread = start_prometheus_server(port, host, registry)
        except OSError as exc:
            raise MetricsPortInUseError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror}): pick another"
                " --metrics-port"
            ) from None
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}{METRICS_PATH}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
