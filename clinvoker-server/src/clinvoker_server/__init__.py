"""clinvoker-server: the HTTP face of clinvoker.

One Starlette application, built by :func:`clinvoker_server.app.create_app` from a
:class:`clinvoker.config.Config`, speaks three API families over the same normalized event stream:

* ``/api/v1/*`` — the native REST API (prompt, parallel, chain, compare, backends, sessions);
* ``/openai/v1/*`` — OpenAI-compatible chat completions, responses and models;
* ``/anthropic/v1/*`` — Anthropic-compatible messages, token counting and models;

plus ``/health``, ``/metrics``, ``/openapi.json`` and ``/docs``. ``clinvk serve`` (added by
:mod:`clinvoker_server.command`) runs it under Hypercorn.

This module stays light: the plugin entry point imports it for ``clinvk --help``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
