"""``wire_format: clinvk``: what ``clinvk --server`` asks of the native API.

Prompts stream clinvoker's own events (the ``done`` one carrying the whole result), dry runs
describe the command, orchestrations stream their progress, ``continue_session`` picks the newest
resumable session, and the turn options the command line has (timeout, disallowed tools,
appended system prompt) reach the run.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from clinvoker.events import Done, TextDelta, decode_event
from conftest import alive, wait_until

PROMPT = "/api/v1/prompt"


def ndjson(response) -> list[dict]:
    return [json.loads(line) for line in response.iter_lines() if line.strip()]


def test_prompt_streams_clinvoker_events_ending_with_the_full_result(server, workdir):
    body = {"prompt": "hi there", "workdir": workdir, "wire_format": "clinvk"}
    with server.client() as c, c.stream("POST", PROMPT, json=body) as r:
        lines = [line for line in r.iter_lines() if line.strip()]
        headers = r.headers
    assert r.status_code == 200
    assert headers["content-type"] == "application/x-ndjson"
    events = [decode_event(line) for line in lines]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "You said: hi there"
    done = events[-1]
    assert isinstance(done, Done)
    assert done.result.content == text
    assert done.result.session_id.startswith("stub-")  # the backend's own id
    assert done.result.clinvk_session_id == headers["x-clinvk-session"]
    assert done.result.usage is not None
    assert done.result.usage.cached_tokens == 2
    assert done.result.backend_state == {}
    assert headers["x-clinvk-backend"] == "stub"
    assert "x-clinvk-continued" not in headers


def test_the_backend_exit_code_is_kept(server):
    body = {"prompt": "x", "model": "crash", "wire_format": "clinvk"}
    with server.client() as c, c.stream("POST", PROMPT, json=body) as r:
        done = decode_event([line for line in r.iter_lines() if line.strip()][-1])
    assert isinstance(done, Done)
    assert done.result.exit_code == 3
    assert done.result.error == "stub crashed"


def test_native_lines_come_before_the_events_parsed_from_them(server):
    body = {"prompt": "yo", "wire_format": "clinvk", "native": True, "ephemeral": True}
    with server.client() as c, c.stream("POST", PROMPT, json=body) as r:
        lines = ndjson(r)
        headers = r.headers
    assert "x-clinvk-session" not in headers
    assert lines[0]["type"] == "native"
    assert json.loads(lines[0]["line"])["type"] == "init"
    assert lines[1]["type"] == "session_started"
    natives = [json.loads(x["line"]) for x in lines if x["type"] == "native"]
    assert [n["type"] for n in natives] == ["init", "delta", "delta", "delta", "usage"]
    assert lines[-1]["type"] == "done"


def test_continue_session_picks_the_newest_resumable_session_of_the_workdir(server, workdir):
    with server.client() as c:
        first = c.post(PROMPT, json={"prompt": "one", "workdir": workdir}).json()
        before = c.get(f"/api/v1/sessions/{first['session_id']}").json()
        c.post(PROMPT, json={"prompt": "elsewhere"})  # the server's own directory
        body = {"prompt": "two", "workdir": workdir, "wire_format": "clinvk"}
        with c.stream("POST", PROMPT, json={**body, "continue_session": "auto"}) as r:
            done = decode_event(ndjson_lines(r)[-1])
            headers = r.headers
        session = c.get(f"/api/v1/sessions/{first['session_id']}").json()
        listed = c.get("/api/v1/sessions").json()["sessions"]
    assert headers["x-clinvk-session"] == first["session_id"]
    continued = datetime.fromisoformat(headers["x-clinvk-continued"])
    assert continued == datetime.fromisoformat(before["last_used"].replace("Z", "+00:00"))
    assert isinstance(done, Done)
    assert done.result.clinvk_session_id == first["session_id"]
    assert session["turn_count"] == 2
    assert all(s["resumable"] for s in listed)


def test_continue_session_starts_a_new_session_when_none_fits(server, workdir):
    body = {"prompt": "one", "workdir": workdir, "continue_session": "last"}
    with server.client() as c:
        r = c.post(PROMPT, json={**body, "backend": "stub2"})
        clash = c.post(PROMPT, json={**body, "session_id": "abc"})
        ephemeral = c.post(PROMPT, json={**body, "ephemeral": True})
    assert r.status_code == 200
    assert r.json()["backend"] == "stub2"
    assert clash.status_code == 422
    assert "contradict" in clash.json()["error"]["message"]
    assert ephemeral.status_code == 422


def test_dry_run_describes_the_command(server, workdir):
    body = {"prompt": "hi", "workdir": workdir, "dry_run": True, "wire_format": "clinvk"}
    with server.client() as c:
        answer = c.post(PROMPT, json=body).json()
    assert answer["dry_run"] is True
    assert answer["backend"] == "stub"
    assert answer["command"][-2:] == ["--", "hi"]
    assert answer["cwd"] == workdir
    assert answer["continue_session"] is None


def test_turn_options_reach_the_run(server, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "5")
    body = {"prompt": "x", "model": "slow", "timeout": 0.5, "wire_format": "clinvk"}
    start = time.monotonic()
    with server.client() as c, c.stream("POST", PROMPT, json=body) as r:
        done = decode_event(ndjson_lines(r)[-1])
        appended = c.post(
            PROMPT,
            json={"prompt": "y", "system_prompt": "be brief", "system_prompt_mode": "append"},
        )
        negative = c.post(PROMPT, json={"prompt": "y", "timeout": -1})
    assert time.monotonic() - start < 4
    assert isinstance(done, Done)
    assert done.result.error_code == "timeout"
    assert done.result.exit_code == 124
    assert "[system: be brief]" in appended.json()["output"]
    assert negative.status_code == 422


def test_parallel_streams_progress_then_the_report(server):
    tasks = [{"prompt": "a"}, {"prompt": "b", "model": "crash"}]
    body = {"tasks": tasks, "wire_format": "clinvk"}
    with server.client() as c, c.stream("POST", "/api/v1/parallel", json=body) as r:
        lines = ndjson(r)
    kinds = [line["type"] for line in lines]
    assert sorted(kinds[:-1]) == ["done", "done", "start", "start"]
    assert kinds[-1] == "report"
    report = lines[-1]["report"]
    assert [o["status"] for o in report["results"]] == ["completed", "failed"]
    assert report["results"][1]["exit_code"] == 3
    done = {line["outcome"]["index"]: line["outcome"] for line in lines if line["type"] == "done"}
    assert done[0]["output"] == "You said: a"


def test_chain_problem_is_an_error_line(server):
    steps = [{"prompt": "{{session}}"}]
    body = {"steps": steps, "wire_format": "clinvk"}
    with server.client() as c, c.stream("POST", "/api/v1/chain", json=body) as r:
        lines = ndjson(r)
    assert lines == [
        {
            "type": "error",
            "error": {
                "code": "invalid_request",
                "message": lines[0]["error"]["message"],
            },
        }
    ]
    assert "persist_sessions" in lines[0]["error"]["message"]


def test_closing_an_orchestration_stream_stops_its_runs(server):
    body = {"backends": ["stub"], "prompt": "x", "model": "hang", "wire_format": "clinvk"}
    with server.client() as c, c.stream("POST", "/api/v1/compare", json=body) as r:
        lines = r.iter_lines()
        assert json.loads(next(lines)) == {"type": "start", "index": 0}
        wait_until(lambda: bool(server.pids()), what="the stub to start")
    pid = server.pids()[0]
    wait_until(lambda: not alive(pid), what="the hanging stub to be stopped")


def ndjson_lines(response) -> list[str]:
    return [line for line in response.iter_lines() if line.strip()]
