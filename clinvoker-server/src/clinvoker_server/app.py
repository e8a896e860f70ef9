"""The application factory: :func:`create_app` builds the whole server from a config.

Middleware, outermost first: request id (and path normalisation) → telemetry span/metrics →
access log → CORS → body size → API-key auth → rate limit → unexpected-error net → routes. The
reloadable settings (keys, policies, limits, CORS, backend defaults) are read per request from
``server.settings`` (:mod:`clinvoker_server.settings`, :mod:`clinvoker_server.reload`). Every error — raised by a
handler, by a middleware, or an unknown route or method — is answered in the shape of the API
family the path belongs to (:mod:`clinvoker_server.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from clinvoker.errors import ClinvokerError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clinvoker_server import (
    anthropic_messages,
    health,
    openai_chat,
    openai_responses,
    routes_models,
    routes_native,
    routes_orchestrate,
)
from clinvoker_server.audit import AuditLog
from clinvoker_server.concurrency import Concurrency
from clinvoker_server.errors import MethodNotAllowed, RouteNotFound, family_for_path
from clinvoker_server.jsonio import error_response
from clinvoker_server.middleware import (
    AccessLogMiddleware,
    AuthMiddleware,
    BodySizeMiddleware,
    CORSMiddleware,
    RateLimitMiddleware,
    ReadTimeoutMiddleware,
    RequestIdMiddleware,
    UnexpectedErrorMiddleware,
)
from clinvoker_server.openapi import docs_page, openapi_json
from clinvoker_server.ratelimit import TokenBucketLimiter
from clinvoker_server.reload import Reloader
from clinvoker_server.runs import Runs
from clinvoker_server.settings import build_settings
from clinvoker_server.state import ServerState, request_id_of
from clinvoker_server.telemetry import Telemetry, TelemetryMiddleware

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.sessions import SessionStore
    from opentelemetry.sdk.trace import SpanProcessor

__all__ = ["ROUTES", "create_app"]


async def _metrics(request: Request) -> Response:
    server: ServerState = request.app.state.server
    if not server.telemetry.metrics_enabled:
        raise RouteNotFound(
            "metrics are disabled", hint="set server.metrics_enabled: true to expose /metrics"
        )
    body = await asyncio.to_thread(server.telemetry.render_metrics)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


ROUTES: list[Route] = [
    Route("/health", health.health, methods=["GET"]),
    Route("/metrics", _metrics, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
    # native
    Route("/api/v1/prompt", routes_native.prompt, methods=["POST"]),
    Route("/api/v1/parallel", routes_orchestrate.parallel, methods=["POST"]),
    Route("/api/v1/chain", routes_orchestrate.chain, methods=["POST"]),
    Route("/api/v1/compare", routes_orchestrate.compare, methods=["POST"]),
    Route("/api/v1/backends", routes_native.backends, methods=["GET"]),
    Route("/api/v1/sessions", routes_native.list_sessions, methods=["GET"]),
    Route("/api/v1/sessions/{id}", routes_native.get_session, methods=["GET"]),
    Route("/api/v1/sessions/{id}", routes_native.delete_session, methods=["DELETE"]),
    Route("/api/v1/sessions/{id}/resume", routes_native.resume, methods=["POST"]),
    # OpenAI
    Route("/openai/v1/chat/completions", openai_chat.chat_completions, methods=["POST"]),
    Route("/openai/v1/responses", openai_responses.create_response, methods=["POST"]),
    Route("/openai/v1/models", routes_models.openai_models, methods=["GET"]),
    Route("/openai/v1/models/{model:path}", routes_models.openai_model, methods=["GET"]),
    # Anthropic
    Route("/anthropic/v1/messages", anthropic_messages.create_message, methods=["POST"]),
    Route("/anthropic/v1/messages/count_tokens", anthropic_messages.count_tokens, methods=["POST"]),
    Route("/anthropic/v1/models", routes_models.anthropic_models, methods=["GET"]),
    Route("/anthropic/v1/models/{model:path}", routes_models.anthropic_model, methods=["GET"]),
]


async def _clinvoker_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClinvokerError)
    return error_response(exc, family_for_path(request.url.path), request_id_of(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    error: ClinvokerError
    if exc.status_code == 405:
        allowed = tuple((exc.headers or {}).get("Allow", "").replace(" ", "").split(","))
        error = MethodNotAllowed(
            f"method {request.method} is not allowed on {path}",
            allowed=tuple(a for a in allowed if a),
        )
    elif exc.status_code == 404:
        error = RouteNotFound(
            f"no route for {request.method} {path}", hint="see /openapi.json for the routes"
        )
    else:
        error = ClinvokerError(str(exc.detail))
        error.http_status = exc.status_code  # type: ignore[misc]
    return error_response(error, family_for_path(path), request_id_of(request))


def create_app(
    config: Config,
    *,
    host: PluginHost | None = None,
    store: SessionStore | None = None,
    span_processors: tuple[SpanProcessor, ...] = (),
    loader: Callable[[], Config] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    reload_interval: float = 0.5,
) -> Starlette:
    """Build the server application from ``config``.

    :param host: the plugin host with the backends (default: the process-wide one).
    :param store: the session store (default: :func:`clinvoker.sessions.open_store`).
    :param span_processors: extra OpenTelemetry span processors (exporters, tests).
    :param loader: loads the configuration again on reload (SIGHUP, a changed file); ``None``
        reloads only the key sources of ``config``.
    :param config_file: the file ``loader`` reads; it is watched for changes.
    :param reload_interval: seconds between checks of the watched files.
    :raises ClinvokerError: a configuration problem (unreadable key file...), at once.
    """
    if host is None:
        from clinvoker.plugins import get_host

        host = get_host()
    cfg = config.server
    settings = build_settings(config, host)
    telemetry = Telemetry(metrics_enabled=cfg.metrics_enabled, span_processors=span_processors)
    concurrency = Concurrency(
        cfg.max_concurrent_per_backend, cfg.queue_size, cfg.queue_timeout_secs
    )
    audit = AuditLog()
    audit.configure(cfg.audit_log)
    runs = Runs(  # the lambdas read the server's current settings (``server`` is bound below)
        config=lambda: server.config,
        host=host,
        store=store,
        concurrency=concurrency,
        telemetry=telemetry,
        audit=audit,
        is_key=lambda text: server.keys.is_key(text),
    )
    server = ServerState(
        settings=settings,
        host=host,
        runs=runs,
        telemetry=telemetry,
        limiter=TokenBucketLimiter(
            cfg.rate_limit_rps, cfg.rate_limit_burst, idle_secs=float(cfg.rate_limit_cleanup_secs)
        ),
        audit=audit,
        store_override=store,
    )
    server.reloader = Reloader(server, loader, config_file, interval=reload_interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        retention = config.session.retention_days
        if retention > 0:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(lambda: server.store().prune(older_than_days=retention))
        watcher = asyncio.ensure_future(server.reloader.run()) if server.reloader else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(BaseException):
                    await watcher
            await runs.drain(float(server.config.server.shutdown_grace_secs))
            telemetry.shutdown()
            audit.close()

    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(TelemetryMiddleware, telemetry=telemetry),
        Middleware(AccessLogMiddleware, fmt=cfg.log_format),
        Middleware(CORSMiddleware, policy=lambda: server.settings.cors),
        Middleware(ReadTimeoutMiddleware, timeout=lambda: server.config.server.read_timeout_secs),
        Middleware(BodySizeMiddleware, limit=lambda: server.config.server.max_request_body_bytes),
        Middleware(AuthMiddleware, keys=lambda: server.settings.keys),
        Middleware(RateLimitMiddleware, limiter=server.limiter, settings=lambda: server.settings),
        Middleware(UnexpectedErrorMiddleware),
    ]
    handlers: dict[Any, Any] = {
        ClinvokerError: _clinvoker_error,
        HTTPException: _http_error,
    }
    app = Starlette(
        routes=ROUTES, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
    app.state.server = server
    return app
