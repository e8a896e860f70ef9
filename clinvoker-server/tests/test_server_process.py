"""The server as a process: ``clinvk serve``, the banner, and a graceful shutdown on a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import alive, wait_until

HERE = Path(__file__).parent
CHAT = "/openai/v1/chat/completions"


def start(cmd: list[str], tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    ready = tmp_path / "ready"
    full_env = {
        **os.environ,
        "CLINVK_HOME": str(tmp_path / "home"),
        "STUB_PID_DIR": str(tmp_path / "pids"),
        **env,
    }
    full_env.pop("CLINVK_API_KEYS", None)
    (tmp_path / "pids").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [*cmd, "--ready-file", str(ready)] if "clinvk" in cmd[0] else [*cmd, str(ready)],
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: ready.exists() and ready.read_text().strip() != "", timeout=20, what="ready"
        )
    except AssertionError:
        proc.kill()
        raise AssertionError(f"server did not start: {proc.communicate()[1]}") from None
    return proc, ready.read_text().strip()


def stub_server(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    return start([sys.executable, str(HERE / "server_stub_serve.py")], tmp_path, **env)


def test_clinvk_serve_prints_the_banner_and_stops_on_sigint(tmp_path):
    clinvk = Path(sys.executable).with_name("clinvk")
    proc, url = start([str(clinvk), "serve", "--port", "0", "--log-format", "json"], tmp_path)
    health = httpx.get(url + "/health").json()
    assert health["uptime_ms"] >= 0
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"clinvk API server starting on {url}" in out
    assert "Press Ctrl+C to stop" in out
    record = json.loads(next(line for line in err.splitlines() if '"msg":"request"' in line))
    assert record["path"] == "/health"
    assert record["status"] == 200


def test_sigterm_lets_a_running_stream_finish(tmp_path):
    proc, url = stub_server(tmp_path, STUB_DELAY="0.1", CLINVK_SERVER__SHUTDOWN_GRACE_SECS="20")
    body = {"model": "stub/slow", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=url, timeout=30) as c, c.stream("POST", CHAT, json=body) as r:
        lines = r.iter_lines()
        received = [next(lines)]
        proc.send_signal(signal.SIGTERM)
        received += list(lines)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "data: [DONE]" in received
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content", "")
        for line in received
        if line.startswith("data: {") and '"choices":[{' in line
    )
    assert text == "".join(f"w{i} " for i in range(20))


def test_sigterm_ends_runs_past_the_grace_period(tmp_path):
    proc, url = stub_server(tmp_path, CLINVK_SERVER__SHUTDOWN_GRACE_SECS="1")
    body = {"model": "stub/hang", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    pids = tmp_path / "pids"
    with httpx.Client(base_url=url, timeout=30) as c, c.stream("POST", CHAT, json=body) as r:
        lines = r.iter_lines()
        for line in lines:
            if "thinking" in line:
                break
        (pid,) = [int(p.name) for p in pids.iterdir()]
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(httpx.HTTPError):
            list(lines)  # the stream is cut when the grace period is over
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert time.monotonic() - began < 10
    wait_until(lambda: not alive(pid), timeout=5, what="the hung CLI to be killed")
