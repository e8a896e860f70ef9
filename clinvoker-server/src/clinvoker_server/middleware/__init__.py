"""ASGI middleware, outermost first: request id → telemetry → access log → CORS → read deadline →
body size → auth → rate limit → unexpected-error net.

Each is a plain ASGI class (no ``BaseHTTPMiddleware``), so streaming responses pass through
untouched and every rejection is answered in the API family's own error shape.
"""

from __future__ import annotations

from clinvoker_server.middleware.accesslog import AccessLogMiddleware
from clinvoker_server.middleware.auth import AuthMiddleware
from clinvoker_server.middleware.bodysize import BodySizeMiddleware
from clinvoker_server.middleware.cors import CORSMiddleware
from clinvoker_server.middleware.ratelimit import RateLimitMiddleware
from clinvoker_server.middleware.readtimeout import ReadTimeoutMiddleware
from clinvoker_server.middleware.requestid import RequestIdMiddleware
from clinvoker_server.middleware.unexpected import UnexpectedErrorMiddleware

__all__ = [
    "AccessLogMiddleware",
    "AuthMiddleware",
    "BodySizeMiddleware",
    "CORSMiddleware",
    "RateLimitMiddleware",
    "ReadTimeoutMiddleware",
    "RequestIdMiddleware",
    "UnexpectedErrorMiddleware",
]
