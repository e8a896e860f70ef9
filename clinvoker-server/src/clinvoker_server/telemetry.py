"""OpenTelemetry: a span per request and per backend run, metrics exported at ``/metrics``.

Tracing uses the global tracer provider when the application installed an SDK one (e.g. with an
OTLP exporter); otherwise the server installs a plain SDK provider as the global one, so trace
ids exist and propagate either way. An incoming W3C ``traceparent`` becomes the parent of the
request span; the core opens each backend run's span (``clinvoker.run <backend>``) as a child of
it and hands its context to the CLI as ``TRACEPARENT`` (and ``TRACESTATE``).

Metrics (only with ``server.metrics_enabled``) go through the OpenTelemetry SDK into a private
Prometheus registry: requests, latency, active runs, runs, tokens and errors per backend. Labels
are route *templates* and backend names — never raw ids, paths, keys or prompts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import state
from clinvoker_server.middleware.accesslog import route_template

__all__ = ["Telemetry", "TelemetryMiddleware"]

_PROPAGATOR = TraceContextTextMapPropagator()
_LATENCY_BUCKETS = tuple(0.001 * 2**i for i in range(15))
_RUN_BUCKETS = tuple(0.1 * 2**i for i in range(12))


class Telemetry:
    """The server's tracer and (optional) metric instruments."""

    def __init__(
        self, *, metrics_enabled: bool, span_processors: tuple[SpanProcessor, ...] = ()
    ) -> None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            trace.set_tracer_provider(TracerProvider())
            provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            for processor in span_processors:
                provider.add_span_processor(processor)
        self.tracer = provider.get_tracer("clinvoker_server")
        self.metrics_enabled = metrics_enabled
        self.registry: Any = None
        if metrics_enabled:
            self._init_metrics()

    def _init_metrics(self) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(
            disable_target_info=True, scope_info_enabled=False, registry=self.registry
        )
        views = [
            View(
                instrument_name="clinvk_request_duration",
                aggregation=ExplicitBucketHistogramAggregation(_LATENCY_BUCKETS),
            ),
            View(
                instrument_name="clinvk_backend_execution_duration",
                aggregation=ExplicitBucketHistogramAggregation(_RUN_BUCKETS),
            ),
        ]
        self.meter_provider = MeterProvider(metric_readers=[reader], views=views)
        meter = self.meter_provider.get_meter("clinvoker_server")
        self.requests = meter.create_counter("clinvk_requests", description="HTTP requests")
        self.latency = meter.create_histogram(
            "clinvk_request_duration", unit="s", description="HTTP request duration"
        )
        self.runs = meter.create_counter("clinvk_backend_executions", description="Backend runs")
        self.run_latency = meter.create_histogram(
            "clinvk_backend_execution_duration", unit="s", description="Backend run duration"
        )
        self.active = meter.create_up_down_counter(
            "clinvk_active_runs", description="Backend runs in flight"
        )
        self.tokens = meter.create_counter("clinvk_tokens", description="Tokens used by runs")
        self.errors = meter.create_counter(
            "clinvk_errors", description="Errors by backend and code"
        )

    # -- recording -----------------------------------------------------------------------------

    def record_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one HTTP request and its duration."""
        if self.metrics_enabled:
            self.requests.add(1, {"method": method, "route": route, "status": str(status)})
            self.latency.record(elapsed, {"method": method, "route": route})

    def run_started(self, backend: str) -> None:
        """A backend run began."""
        if self.metrics_enabled:
            self.active.add(1, {"backend": backend})

    def run_finished(
        self,
        backend: str,
        *,
        ok: bool,
        elapsed: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        error_code: str | None = None,
    ) -> None:
        """A backend run ended: outcome, duration, tokens."""
        if not self.metrics_enabled:
            return
        self.active.add(-1, {"backend": backend})
        self.runs.add(1, {"backend": backend, "status": "success" if ok else "error"})
        self.run_latency.record(elapsed, {"backend": backend})
        if input_tokens:
            self.tokens.add(input_tokens, {"backend": backend, "kind": "input"})
        if output_tokens:
            self.tokens.add(output_tokens, {"backend": backend, "kind": "output"})
        if not ok:
            self.record_error(backend, error_code or "error")

    def record_error(self, backend: str, code: str) -> None:
        """Count an error of ``backend`` by code."""
        if self.metrics_enabled:
            self.errors.add(1, {"backend": backend, "code": code})

    def render_metrics(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        if self.registry is None:
            return b""
        from prometheus_client import generate_latest

        data: bytes = generate_latest(self.registry)
        return data

    def shutdown(self) -> None:
        """Flush and stop the metric pipeline."""
        if self.metrics_enabled:
            self.meter_provider.shutdown()


def extract_context(headers: Mapping[str, str]) -> Context:
    """The parent context from a W3C ``traceparent`` header (empty if absent or invalid)."""
    return _PROPAGATOR.extract(headers)


class TelemetryMiddleware:
    """A server span and request metrics around every HTTP request."""

    def __init__(self, app: ASGIApp, *, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        parent = extract_context(Headers(scope=scope))
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.telemetry.tracer.start_as_current_span(
            f"{method}", context=parent, kind=SpanKind.SERVER
        ) as span:
            state(scope)["trace_id"] = format(span.get_span_context().trace_id, "032x")
            try:
                await self.app(scope, receive, recording_send)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                self.telemetry.record_request(method, route, status, time.perf_counter() - start)
