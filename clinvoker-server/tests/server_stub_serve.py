"""``python server_stub_serve.py READY_FILE``: ``clinvk serve`` with only the stub backends.

Settings come from the usual ``CLINVK_*`` environment (e.g. ``CLINVK_SERVER__SHUTDOWN_GRACE_SECS``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from clinvoker.config import load_config
from clinvoker_server.serve import run_server
from server_stub import stub_host

if __name__ == "__main__":
    config = load_config(overrides={"default_backend": "stub", "server.port": 0})
    sys.exit(run_server(config, host=stub_host(), ready_file=sys.argv[1]))
