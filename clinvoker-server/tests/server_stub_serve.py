"""``python server_stub_serve.py READY_FILE``: ``clinvk serve`` with only the stub backends.

Settings come from the usual ``CLINVK_*`` environment (e.g. ``CLINVK_SERVER__SHUTDOWN_GRACE_SECS``)
and ``$CLINVK_CONFIG``; SIGHUP or a change to that file reloads them, as with ``clinvk serve``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from clinvoker.config import Config, load_config
from clinvoker_server.serve import config_file_of, run_server
from server_stub import stub_host

OVERRIDES = {"default_backend": "stub", "server.port": 0}


def load() -> Config:
    return load_config(overrides=OVERRIDES)


if __name__ == "__main__":
    code = run_server(
        load(),
        host=stub_host(),
        ready_file=sys.argv[1],
        loader=load,
        config_file=config_file_of(None),
    )
    sys.exit(code)
