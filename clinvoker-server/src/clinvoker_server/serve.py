"""Running the application under Hypercorn, with a graceful shutdown.

:func:`serve` binds the socket itself (so port 0 works and the real port is known), prints the
banner, and serves until its shutdown trigger fires — SIGTERM or SIGINT for :func:`run_server`.
Then Hypercorn stops accepting connections and lets in-flight requests finish for up to
``server.shutdown_grace_secs``; whatever is still running after that is cancelled, which ends the
backend CLIs' process groups; the process exits 0. SIGHUP reloads the configuration
(:mod:`clinvoker_server.reload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.sessions import SessionStore
    from starlette.applications import Starlette

__all__ = ["bind_socket", "config_file_of", "leave", "run_server", "serve"]

log = logging.getLogger("clinvoker_server")

IDLE_CAP_SECS = 5
"""Longest time an idle keep-alive connection is kept (see :func:`serve`)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free port)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        from clinvoker.errors import ConfigError

        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port or stop the program using it",
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def banner(url: str) -> str:
    """The start-up banner (the Go tool's wording)."""
    return "\n".join(
        [
            f"clinvk API server starting on {url}",
            "",
            f"  Custom API:     {url}/api/v1/",
            f"  OpenAI API:     {url}/openai/v1/",
            f"  Anthropic API:  {url}/anthropic/v1/",
            f"  Docs:           {url}/docs  ({url}/openapi.json)",
            f"  Health:         {url}/health",
            "",
            "Press Ctrl+C to stop",
        ]
    )


async def serve(
    app: Starlette,
    config: Config,
    *,
    sock: socket.socket | None = None,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns (default: SIGTERM/SIGINT)."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config as HyperConfig

    cfg = config.server
    if sock is None:
        sock = bind_socket(cfg.host, cfg.port)
    url = _url(sock)
    hc = HyperConfig()
    hc.bind = [f"fd://{sock.detach()}"]  # Hypercorn owns (and closes) the descriptor now
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.graceful_timeout = float(cfg.shutdown_grace_secs)
    # Hypercorn notices that a client closed an idle keep-alive connection only when the idle
    # timeout fires; until then the socket lingers in CLOSE_WAIT. A long idle timeout (the Go
    # default is 120 s) would pile up descriptors under load, so idle connections are capped.
    hc.keep_alive_timeout = float(min(cfg.idle_timeout_secs or IDLE_CAP_SECS, IDLE_CAP_SECS))
    hc.include_server_header = False
    _close_idle_connections_on_hangup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_signals: list[signal.Signals] = []
    if shutdown_trigger is None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
                stop_signals.append(signum)
        shutdown_trigger = stop.wait
    reloader = getattr(getattr(app.state, "server", None), "reloader", None)
    if reloader is not None and hasattr(signal, "SIGHUP"):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, reloader.request, "SIGHUP")
    if on_ready is not None:
        on_ready(url)
    await hypercorn_serve(app, hc, shutdown_trigger=shutdown_trigger, mode="asgi")  # type: ignore[arg-type]
    # Drained: a SIGTERM or Ctrl-C repeated while the process tears down only hurries the
    # exit; without this, the default action would turn a clean exit 0 into death by signal.
    for signum in stop_signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signum)
            signal.signal(signum, _exit_drained)


def _exit_drained(signum: int, frame: object) -> None:
    """A stop signal after the server has drained: leave now, successfully."""
    leave(0)


def leave(code: int) -> NoReturn:
    """Exit once the server has drained, without the interpreter's tear-down.

    Python puts the default signal actions back while it finalizes, so a SIGTERM repeated by
    an impatient supervisor at that moment would turn a clean exit 0 into death by signal.
    What the tear-down would have flushed is flushed first: finished spans (a tracer provider
    an exporter was configured on, e.g. by ``opentelemetry-instrument``) and the logs.
    """
    from opentelemetry import trace

    provider_shutdown = getattr(trace.get_tracer_provider(), "shutdown", None)
    if callable(provider_shutdown):
        with contextlib.suppress(Exception):
            provider_shutdown()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _close_idle_connections_on_hangup() -> None:
    """Make Hypercorn close a keep-alive connection as soon as its idle client hangs up.

    Hypercorn (0.17-0.18) notices the client's FIN between requests but keeps the socket (in
    CLOSE-WAIT) until ``keep_alive_timeout`` — ``server.idle_timeout_secs``, 120 s — so clients
    that reconnect often pile up descriptors. Once the connection is idle and closed by the
    peer, ask the TCP server to close it too (applied once per process).
    """
    from hypercorn.events import Closed
    from hypercorn.protocol.h11 import H11Protocol

    handle = H11Protocol.handle
    if getattr(handle, "closes_on_hangup", False):
        return

    async def handle_then_close(self: Any, event: Any) -> None:
        idle = isinstance(event, Closed) and self.stream is None
        await handle(self, event)
        if idle:
            await self.send(Closed())

    handle_then_close.closes_on_hangup = True  # type: ignore[attr-defined]
    H11Protocol.handle = handle_then_close  # type: ignore[method-assign]


def configure_logging(fmt: str) -> None:
    """Access and error logs to stderr, one line each (JSON lines are already formatted)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(message)s" if fmt == "json" else "%(levelname)s %(name)s %(message)s")
    )
    for name in ("clinvoker_server", "hypercorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_server(
    config: Config,
    *,
    host: PluginHost | None = None,
    store: SessionStore | None = None,
    ready_file: str | None = None,
    loader: Callable[[], Config] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> int:
    """``clinvk serve``: build the app, print the banner, serve until a signal; return 0.

    ``loader`` reloads the configuration on SIGHUP and when ``config_file`` changes (see
    :mod:`clinvoker_server.reload`); without it a reload re-reads the key sources only.
    """
    from clinvoker_server.app import create_app

    configure_logging(config.server.log_format)
    sock = bind_socket(config.server.host, config.server.port)
    app = create_app(config, host=host, store=store, loader=loader, config_file=config_file)

    def ready(url: str) -> None:
        print(banner(url), flush=True)
        if ready_file:
            Path(ready_file).write_text(url + "\n", encoding="utf-8")

    kwargs: dict[str, Any] = {"sock": sock, "on_ready": ready}
    asyncio.run(serve(app, config, **kwargs))
    return 0


def config_file_of(path: str | os.PathLike[str] | None) -> Path:
    """The config file :func:`clinvoker.config.load_config` reads for ``path`` (to watch it):
    ``path``, else ``$CLINVK_CONFIG``, else ``<home>/config.yaml`` (which may not exist yet)."""
    from clinvoker.paths import config_path

    return Path(path).expanduser() if path else config_path()
