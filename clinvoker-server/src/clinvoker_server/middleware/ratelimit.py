"""Token-bucket rate limiting per API key, else per client IP (see :mod:`clinvoker_server.ratelimit`).

A named key with ``rate_limit_rps`` gets its own rate even when ``server.rate_limit_enabled`` is
off. Every path is limited, ``/health`` and HEAD included (as in the Go tool). A 429 carries a
small integer ``Retry-After`` and ``retry-after-ms``.
"""

from __future__ import annotations

import math

from clinvoker.errors import RateLimited
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from clinvoker_server.middleware._common import reject, state
from clinvoker_server.ratelimit import RateLimiter, TrustedProxies

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Applies the limiter; records the client IP in the request state."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter | None,
        proxies: TrustedProxies,
        enabled: bool,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.proxies = proxies
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = state(scope)
        peer = (scope.get("client") or ("unknown", 0))[0]
        client_ip = (
            self.proxies.client_ip(peer, Headers(scope=scope)) if self.proxies.networks else peer
        )
        st["client_ip"] = client_ip
        if self.limiter is not None:
            principal = st.get("principal")
            policy = getattr(principal, "policy", None)
            rate = policy.rate_limit_rps if policy is not None else 0.0
            if self.enabled or rate > 0:
                if principal is not None and principal.authenticated:
                    key = "key:" + principal.name
                else:
                    key = "ip:" + client_ip
                burst = policy.rate_limit_burst if policy is not None else 0
                wait = self.limiter.acquire(key, rate=rate or None, burst=burst or None)
                if wait > 0:
                    exc = RateLimited(
                        "rate limit exceeded", retry_after=math.ceil(wait), hint="retry later"
                    )
                    exc.retry_after_ms = max(1, math.ceil(wait * 1000))  # type: ignore[attr-defined]
                    await reject(scope, receive, send, exc)
                    return
        await self.app(scope, receive, send)
