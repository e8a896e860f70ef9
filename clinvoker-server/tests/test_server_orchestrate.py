"""``/api/v1/parallel``, ``/chain`` and ``/compare`` with the stub backends."""

from __future__ import annotations

from conftest import alive, wait_until


def test_parallel_runs_every_task_and_reports_in_order(server, workdir):
    tasks = [
        {"prompt": "a", "workdir": workdir, "name": "first"},
        {"prompt": "b", "backend": "stub2"},
        {"prompt": "c", "model": "crash"},
    ]
    with server.client() as c:
        r = c.post("/api/v1/parallel", json={"tasks": tasks, "max_parallel": 2})
    body = r.json()
    assert r.status_code == 200
    assert (body["total_tasks"], body["completed"], body["failed"]) == (3, 2, 1)
    assert [x["backend"] for x in body["results"]] == ["stub", "stub2", "stub"]
    assert body["results"][0]["output"] == "You said: a"
    assert body["results"][0]["task_name"] == "first"
    assert body["results"][2]["exit_code"] == 3
    assert body["results"][0]["token_usage"]["output_tokens"] == 7
    assert all(isinstance(x["duration_ms"], int) for x in body["results"])
    assert isinstance(body["total_duration_ms"], int)


def test_parallel_checks_every_task_before_running(server):
    with server.client() as c:
        bad_backend = c.post(
            "/api/v1/parallel",
            json={"tasks": [{"prompt": "a"}, {"prompt": "b", "backend": "nope"}]},
        )
        bad_dir = c.post("/api/v1/parallel", json={"tasks": [{"prompt": "a", "workdir": "/proc"}]})
        bad_flag = c.post(
            "/api/v1/parallel", json={"tasks": [{"prompt": "a", "extra": ["--evil"]}]}
        )
        no_tasks = c.post("/api/v1/parallel", json={"tasks": []})
        dry_task = c.post("/api/v1/parallel", json={"tasks": [{"prompt": "a", "dry_run": True}]})
    assert bad_backend.status_code == 404
    assert bad_dir.status_code == 403
    assert "tasks[0].workdir" in bad_dir.text or "blocked" in bad_dir.text
    assert bad_flag.status_code == 422
    assert no_tasks.status_code == 400
    assert dry_task.status_code == 422
    assert server.pids() == []


def test_parallel_dry_run_spawns_nothing(server):
    with server.client() as c:
        body = c.post("/api/v1/parallel", json={"tasks": [{"prompt": "a"}], "dry_run": True}).json()
    assert body["results"][0]["command"][-1] == "a"
    assert server.pids() == []


def test_chain_passes_the_previous_answer(server):
    steps = [{"prompt": "one", "name": "s1"}, {"prompt": "two {{previous}}", "backend": "stub2"}]
    with server.client() as c:
        body = c.post("/api/v1/chain", json={"steps": steps}).json()
    assert body["total_steps"] == 2
    assert body["completed_steps"] == 2
    assert body["results"][1]["output"] == "You said: two You said: one"


def test_chain_stop_on_failure(server):
    steps = [{"prompt": "x", "model": "crash"}, {"prompt": "never"}]
    with server.client() as c:
        stopped = c.post("/api/v1/chain", json={"steps": steps, "stop_on_failure": True}).json()
        going = c.post("/api/v1/chain", json={"steps": steps}).json()
    assert stopped["failed_step"] == 1
    assert len(stopped["results"]) == 1
    assert len(going["results"]) == 2


def test_compare_reports_each_backend_including_unknown_ones(server):
    with server.client() as c:
        body = c.post(
            "/api/v1/compare", json={"prompt": "hi", "backends": ["stub", "stub2", "ghost"]}
        ).json()
    assert body["backends"] == ["stub", "stub2", "ghost"]
    assert [r["status"] for r in body["results"]] == ["completed", "completed", "failed"]
    assert body["results"][1]["output"] == "You said: hi"


def test_disconnect_stops_an_orchestration(server):
    import httpx
    import pytest

    with server.client(timeout=1.0) as c, pytest.raises(httpx.ReadTimeout):
        c.post(
            "/api/v1/parallel",
            json={"tasks": [{"prompt": "a", "model": "hang"}, {"prompt": "b", "model": "hang"}]},
        )
    wait_until(lambda: len(server.pids()) == 2, what="both stubs to start")
    wait_until(lambda: not any(alive(p) for p in server.pids()), timeout=10, what="stubs killed")
