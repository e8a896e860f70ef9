"""``clinvk serve``: the click command (added by :mod:`clinvoker_server.plugin`).

The server, Starlette, Hypercorn and OpenTelemetry are imported only inside the callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from clinvoker.config import Config

__all__ = ["serve_command"]


@click.command("serve")
@click.option(
    "--host", default=None, help="Address to listen on (default: server.host, 127.0.0.1)."
)
@click.option(
    "-p",
    "--port",
    type=int,
    default=None,
    help="Port (default: server.port, 8080; 0 = any free port).",
)
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Config file (default: $CLINVK_CONFIG or <home>/config.yaml).",
)
@click.option("--api-keys-file", default=None, help="File with one API key per line.")
@click.option("--metrics/--no-metrics", default=None, help="Expose Prometheus metrics at /metrics.")
@click.option(
    "--log-format", type=click.Choice(["json", "text"]), default=None, help="Access log format."
)
@click.option(
    "--ready-file", default=None, hidden=True, help="Write the bound URL here once listening."
)
def serve_command(
    host: str | None,
    port: int | None,
    config_path: str | None,
    api_keys_file: str | None,
    metrics: bool | None,
    log_format: str | None,
    ready_file: str | None,
) -> None:
    """Serve the native, OpenAI- and Anthropic-compatible HTTP APIs.

    SIGHUP, or a change to the config file, reloads keys, policies, limits, CORS and backend
    defaults without dropping runs in flight."""
    from clinvoker.cli.options import global_flags
    from clinvoker.config import load_config
    from clinvoker.errors import ClinvokerError

    from clinvoker_server.serve import config_file_of, leave, run_server

    overrides: dict[str, Any] = {
        "server.host": host or None,
        "server.port": port,
        "server.api_keys_file": api_keys_file,
        "server.metrics_enabled": metrics,
        "server.log_format": log_format,
    }
    path = config_path or global_flags().config

    def load() -> Config:
        return load_config(path, overrides=overrides)

    try:
        config = load()
        code = run_server(
            config, ready_file=ready_file, loader=load, config_file=config_file_of(path)
        )
    except ClinvokerError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    leave(code)
