"""Fixtures of the reliability suite.

* ``world`` — a fresh :class:`~reliability.support.world.World` (clinvk home, work dir, the
  fault-injecting ``claude``/``codex``/``gemini`` on ``PATH``).
* ``fault_server`` — one ``clinvk serve`` per module, with an API key, a 1 s run timeout and room
  for every request at once; its world is ``fault_server.world``.
* ``server_config(**server_keys)`` — the YAML the suite's servers run with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from reliability.support.server import API_KEY, ServerProcess
from reliability.support.world import World

RUN_TIMEOUT_S = 1
"""The run timeout every fault test configures (``--timeout`` / ``request_timeout_secs``)."""
GRACE_S = 2.0
"""The runner's SIGTERM → SIGKILL grace period (``clinvoker.runner.DEFAULT_GRACE_S``)."""


def server_config(*, top: dict[str, Any] | None = None, **server: Any) -> str:
    """``config.yaml`` text for a test server: claude by default, one key, no auto-resume.

    ``server`` keys override the ``server`` section; ``top`` adds other top-level sections.
    """
    settings: dict[str, Any] = {
        "api_keys": [API_KEY],
        "request_timeout_secs": RUN_TIMEOUT_S,
        "shutdown_grace_secs": 5,
        "max_concurrent_per_backend": 64,
        "queue_size": 256,
        "keepalive_secs": 0,
        "log_format": "json",
    }
    settings.update(server)
    config = {
        "default_backend": "claude",
        "session": {"auto_resume": False},
        "server": settings,
        **(top or {}),
    }
    return msgspec.yaml.encode(config).decode()


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An isolated clinvk user with the faulty CLIs."""
    return World(tmp_path)


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``clinvk serve`` shared by a module's tests (each test uses its own prompt token)."""
    world = World(tmp_path_factory.mktemp("fault-server"))
    with ServerProcess(world, config=server_config()) as server:
        yield server
