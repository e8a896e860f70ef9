"""Per-invocation state shared by the commands: the global flags, the config and the client.

Everything is created on first use, so a command that needs no config never loads it.
"""

from __future__ import annotations

import sys
from functools import cached_property
from typing import IO, TYPE_CHECKING

import click

from clinvoker.cli.options import GlobalFlags, global_flags, server_url

if TYPE_CHECKING:
    from clinvoker.cli.client import Client
    from clinvoker.config import Config

__all__ = ["CliState", "get_state"]

_META_KEY = "clinvk.state"


class CliState:
    """What a command needs besides its own flags."""

    def __init__(self, flags: GlobalFlags) -> None:
        self.flags = flags

    @cached_property
    def config(self) -> Config:
        """The configuration (``--config`` file, ``CLINVK_*`` environment, defaults)."""
        from clinvoker.config import load_config

        return load_config(self.flags.config)

    @cached_property
    def server(self) -> str | None:
        """The server everything runs on (``--server`` / ``$CLINVK_SERVER``), else ``None``."""
        return server_url(self.flags)

    @property
    def remote(self) -> bool:
        """Whether the commands run on a server."""
        return self.server is not None

    @cached_property
    def client(self) -> Client:
        """What the commands call to run prompts and manage sessions.

        The local library, or with ``--server`` the server's API (key: ``--api-key``, else
        ``$CLINVK_API_KEY``).
        """
        if self.server is not None:
            import os

            from clinvoker.cli.remote import RemoteClient

            key = self.flags.api_key or os.environ.get("CLINVK_API_KEY", "").strip() or None
            return RemoteClient(self.server, api_key=key, config=self.config, note=self.note)
        from clinvoker.cli.client import LocalClient

        return LocalClient(self.config)

    def close(self) -> None:
        """Release what the invocation opened (the connection to a server)."""
        client = self.__dict__.get("client")
        close = getattr(client, "close", None)
        if close is not None:
            close()

    @property
    def out(self) -> IO[str]:
        return sys.stdout

    @property
    def err(self) -> IO[str]:
        return sys.stderr

    def wants_json(self, flag: bool) -> bool:
        """``--json`` was given, or the global ``-o json`` (listing commands honour both)."""
        return flag or (self.flags.output_format or "").lower() == "json"

    def note(self, message: str) -> None:
        """A one-line note for the user on stderr."""
        click.echo(message, err=True)

    def verbose(self, message: str) -> None:
        """A diagnostic line on stderr, only with ``-v``."""
        if self.flags.verbose or self.flags.debug:
            click.echo(f"clinvk: {message}", err=True)

    @staticmethod
    def stdin_is_tty() -> bool:
        from clinvoker.cli.running import stdin_is_tty

        return stdin_is_tty()


def get_state(ctx: click.Context | None = None) -> CliState:
    """The state of the current invocation (created on first use)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    state = root.meta.get(_META_KEY)
    if state is None:
        state = CliState(global_flags(root))
        root.meta[_META_KEY] = state
        root.call_on_close(state.close)
    assert isinstance(state, CliState)
    return state
