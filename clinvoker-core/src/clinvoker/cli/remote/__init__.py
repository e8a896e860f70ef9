"""``clinvk --server URL``: every command against a clinvoker server's native API (``/api/v1``).

:class:`~clinvoker.cli.remote.client.RemoteClient` implements the same
:class:`~clinvoker.cli.client.Client` methods as the local one, over HTTP with only the standard
library (:mod:`http.client`): a prompt streams clinvoker's own events (``wire_format: clinvk``),
so the same renderers print the same text, JSON and stream-json, and the run's result gives the
same exit code. HTTP errors become the same :class:`~clinvoker.errors.ClinvokerError` classes a
local run raises (:mod:`clinvoker.cli.remote.errors`). Nothing here is imported unless a server
is used.
"""

from __future__ import annotations

from clinvoker.cli.remote.client import RemoteClient

__all__ = ["RemoteClient"]
