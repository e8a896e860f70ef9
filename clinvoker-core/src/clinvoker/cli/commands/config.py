"""``clinvk config show | get | set | path``."""

from __future__ import annotations

from typing import Any

import click

from clinvoker.cli.exitcodes import OK

__all__ = ["config"]


@click.group(
    short_help="Show and change the configuration.",
    epilog=(
        "\b\nExamples:\n"
        "  clinvk config show\n"
        "  clinvk config get session.auto_resume\n"
        "  clinvk config set default_backend codex\n"
        "  clinvk config path"
    ),
)
def config() -> None:
    """Show and change the configuration (config.yaml, same keys as the Go clinvk).

    Precedence per key: flags > CLINVK_* environment > the file > built-in defaults.
    """


@config.command(
    "show",
    short_help="Print the effective configuration.",
    epilog="\b\nExamples:\n  clinvk config show\n  clinvk config show --json | jq .session",
)
@click.option("--json", "fmt", flag_value="json", help="Print JSON.")
@click.option("--yaml", "fmt", flag_value="yaml", default=True, help="Print YAML (the default).")
@click.pass_context
def show(ctx: click.Context, fmt: str) -> int:
    """Print the effective configuration (file + environment + defaults; secrets hidden)."""
    from clinvoker.cli.state import get_state
    from clinvoker.config import config_to_dict

    state = get_state(ctx)
    data = config_to_dict(state.config)
    if fmt == "json" or state.wants_json(False):
        from clinvoker.cli.render import dumps

        click.echo(dumps(data))
        return OK
    click.echo(f"# {_config_file(state.flags.config)}")
    click.echo(_yaml(data), nl=False)
    return OK


@config.command(
    "get",
    short_help="Print one configuration value.",
    epilog="\b\nExamples:\n  clinvk config get default_backend\n  clinvk config get backends.claude",
)
@click.argument("key")
@click.pass_context
def get(ctx: click.Context, key: str) -> int:
    """Print the value of KEY (dotted, e.g. session.retention_days)."""
    from clinvoker.cli.state import get_state
    from clinvoker.config import get_config_value

    value = get_config_value(get_state(ctx).config, key)
    click.echo(_scalar(value) if not isinstance(value, dict | list) else _yaml(value), nl=False)
    return OK


@config.command(
    "set",
    short_help="Change one configuration value in the config file.",
    epilog=(
        "\b\nExamples:\n"
        "  clinvk config set default_backend gemini\n"
        "  clinvk config set session.auto_resume false\n"
        "  clinvk config set backends.claude.allowed_tools Read,Grep"
    ),
)
@click.argument("key")
@click.argument("value")
@click.pass_context
def set_(ctx: click.Context, key: str, value: str) -> int:
    """Set KEY to VALUE in the config file (--config, $CLINVK_CONFIG or the default one).

    The value is checked against the key's type before anything is written.
    """
    from clinvoker.cli.state import get_state
    from clinvoker.config import set_config_value

    state = get_state(ctx)
    stored = set_config_value(key, value, state.flags.config)
    click.echo(f"Set {key} = {_inline(stored)}")
    state.verbose(f"written to {_config_file(state.flags.config)}")
    return OK


@config.command(
    "path",
    short_help="Print the path of the config file.",
    epilog='\b\nExample:\n  $EDITOR "$(clinvk config path)"',
)
@click.pass_context
def path(ctx: click.Context) -> int:
    """Print the path of the config file in use (it may not exist yet)."""
    from clinvoker.cli.state import get_state

    click.echo(_config_file(get_state(ctx).flags.config))
    return OK


def _config_file(explicit: str | None) -> str:
    import os

    from clinvoker.paths import config_path

    return os.path.abspath(os.path.expanduser(explicit)) if explicit else str(config_path())


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true\n" if value else "false\n"
    if value is None:
        return "\n"
    return f"{value}\n"


def _inline(value: Any) -> str:
    """A stored value on one line: ``true``, ``9000``, ``[Read, Grep]``, ``{"A": "1"}``."""
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        import json

        return json.dumps(value, ensure_ascii=False)
    return _scalar(value).rstrip("\n")


def _yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))
