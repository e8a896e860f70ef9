"""Token-bucket rate limiting per API key, else per client IP (see :mod:`clinvoker_server.ratelimit`).

A named key with ``rate_limit_rps`` gets its own rate even when ``server.rate_limit_enabled`` is
off. Rates, bursts and trusted proxies are read from the current settings per request (a reload
applies at once; the buckets are kept). Every path is limited, ``/health`` and HEAD included (as in the Go tool). A 429 carries a
small integer ``Retry-After`` and ``retry-after-ms``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from clinvoker.errors import RateLimited
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from clinvoker_server.middleware._common import reject, state
from clinvoker_server.ratelimit import RateLimiter

if TYPE_CHECKING:
    from clinvoker_server.settings import Settings

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Applies the limiter with the current settings; records the client IP in the request state."""

    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, settings: Callable[[], Settings]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = self.settings()
        cfg = current.config.server
        st = state(scope)
        peer = (scope.get("client") or ("unknown", 0))[0]
        proxies = current.proxies
        client_ip = proxies.client_ip(peer, Headers(scope=scope)) if proxies.networks else peer
        st["client_ip"] = client_ip
        principal = st.get("principal")
        policy = getattr(principal, "policy", None)
        rate = policy.rate_limit_rps if policy is not None else 0.0
        burst = policy.rate_limit_burst if policy is not None else 0
        if not rate and cfg.rate_limit_enabled:
            rate, burst = cfg.rate_limit_rps, cfg.rate_limit_burst
        if rate > 0:
            if principal is not None and principal.authenticated:
                key = "key:" + principal.name
            else:
                key = "ip:" + client_ip
            burst = burst or max(1, math.ceil(2 * rate))
            wait = self.limiter.acquire(key, rate=rate, burst=burst)
            if wait > 0:
                exc = RateLimited(
                    "rate limit exceeded", retry_after=math.ceil(wait), hint="retry later"
                )
                exc.retry_after_ms = max(1, math.ceil(wait * 1000))  # type: ignore[attr-defined]
                await reject(scope, receive, send, exc)
                return
        await self.app(scope, receive, send)
