"""The HTTP proxy ``clinvk --server`` goes through: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``.

The environment is read the way :func:`urllib.request.getproxies` and
:func:`urllib.request.proxy_bypass` read it (either case; ``NO_PROXY`` lists hosts, ``host:port``
entries and domain suffixes, or ``*``). An ``https://`` server is reached through a ``CONNECT``
tunnel, so TLS still runs end to end with the server and its certificate is still checked; an
``http://`` server gets absolute-form requests. Credentials in the proxy URL are sent as
``Proxy-Authorization: Basic`` and never shown: messages name the proxy as ``http://host:port``.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from clinvoker.errors import UsageError

if TYPE_CHECKING:
    from clinvoker.cli.remote.http import Endpoint

__all__ = ["Proxy", "proxy_for"]


class Proxy:
    """An ``http://`` proxy: where it listens, the headers it needs, and how to name it."""

    def __init__(self, host: str, port: int, variable: str, auth: str | None = None) -> None:
        self.host = host
        self.port = port
        self.variable = variable
        """The environment variable it came from (for messages)."""
        self.headers: dict[str, str] = {"Proxy-Authorization": auth} if auth else {}
        self.url = f"http://{host}:{port}"
        """The proxy as messages show it (no credentials)."""


def proxy_for(endpoint: Endpoint) -> Proxy | None:
    """The proxy the environment names for ``endpoint``, or ``None`` (none set, or ``NO_PROXY``).

    :raises UsageError: the variable holds something clinvk cannot use as a proxy.
    """
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the usual case, without importing urllib.request
    from urllib.request import getproxies, proxy_bypass

    given = getproxies().get(endpoint.scheme)
    if not given or proxy_bypass(f"{endpoint.host}:{endpoint.port}"):
        return None
    return _parse(given, f"{endpoint.scheme.upper()}_PROXY")


def _parse(given: str, variable: str) -> Proxy:
    example = "e.g. http://proxy.example:3128"
    text = given.strip() if "://" in given else f"http://{given.strip()}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UsageError(f"{variable} is not a valid proxy URL ({example})") from None
    if parts.scheme != "http" or not parts.hostname:
        scheme = f"{parts.scheme}:// " if parts.scheme != "http" else ""
        raise UsageError(
            f"{variable} names a {scheme}proxy clinvk cannot use: it talks to proxies over "
            f"plain http ({example}); unset it or add the server's host to NO_PROXY"
        )
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port or 80, variable, auth)
