"""``RemoteClient`` against a real server process with the stub backends (fast, no real CLIs).

Each test drives the client the way the commands do and checks what a user would see: the
events and result of a run, sessions, orchestration progress, and the local error classes (with
their exit codes) for the server's error answers.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clinvoker.cli.client import PromptRequest
from clinvoker.cli.remote import RemoteClient
from clinvoker.cli.remote.errors import ServerUnreachable
from clinvoker.config import Config
from clinvoker.errors import (
    AuthError,
    SessionNotFound,
    UnknownBackend,
    UsageError,
)
from clinvoker.events import Done, Event, TextDelta
from clinvoker.orchestrate import ParallelSpec, Task

from remote.conftest import ServerProcess, alive, wait_until


class Client(RemoteClient):
    """A client that keeps the notes it would print."""

    def __init__(self, server: ServerProcess, key: str | None) -> None:
        self.notes: list[str] = []
        key = server.key if key is None else key
        super().__init__(server.url, api_key=key, config=Config(), note=self.notes.append)


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    """``clients(server, key=None)``: clients closed after the test."""
    made: list[Client] = []

    def make(server: ServerProcess, *, key: str | None = None) -> Client:
        made.append(Client(server, key))
        return made[-1]

    yield make
    for c in made:
        c.close()


def run(c: RemoteClient, request: PromptRequest) -> list[Event]:
    async def go() -> list[Event]:
        handle = c.start(request)
        async with handle:
            return [event async for event in handle]

    return asyncio.run(go())


def test_a_prompt_streams_the_servers_events_and_result(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)
    events = run(c, PromptRequest("hello there"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "You said: hello there"
    done = events[-1]
    assert isinstance(done, Done)
    assert done.result.backend == "stub"
    assert done.result.exit_code == 0
    assert done.result.session_id  # the stub's own conversation id
    [session] = c.list_sessions()[0]
    assert session.id == done.result.clinvk_session_id
    assert session.turn_count == 1


def test_sessions_are_listed_found_continued_and_deleted(
    stub_server: ServerProcess, clients: Callable[..., Client], tmp_path: Path
) -> None:
    c = clients(stub_server)
    run(c, PromptRequest("one", workdir=str(tmp_path)))
    run(c, PromptRequest("two", backend="stub2"))
    sessions, total = c.list_sessions()
    assert total == 2
    assert [s.backend for s in sessions] == ["stub2", "stub"]  # newest first
    first = sessions[1]
    assert c.get_session(first.id[:6]).initial_prompt == "one"
    assert c.latest_session(backend="stub", workdir=str(tmp_path)) is not None
    assert c.latest_session(backend="stub2", workdir=str(tmp_path)) is None
    continued = run(c, PromptRequest("three", workdir=str(tmp_path), continue_mode="auto"))
    assert continued[-1].result.clinvk_session_id == first.id  # type: ignore[union-attr]
    assert c.notes[-1].startswith(f"continuing session {first.id[:8]} (stub) from ")
    assert c.get_session(first.id).turn_count == 2
    assert c.delete_session(first.id[:8]) == first.id
    with pytest.raises(SessionNotFound) as info:
        c.get_session(first.id)
    assert info.value.exit_code == 5


def test_clean_keeps_the_newest(stub_server: ServerProcess, clients: Callable[..., Client]) -> None:
    c = clients(stub_server)
    for prompt in ("a", "b", "c"):
        run(c, PromptRequest(prompt))
    assert c.prune_sessions(older_than_days=None, keep=1) == 2
    [left], total = c.list_sessions()
    assert total == 1
    assert left.initial_prompt == "c"


def test_a_dry_run_describes_the_command_without_running(
    stub_server: ServerProcess, clients: Callable[..., Client], tmp_path: Path
) -> None:
    c = clients(stub_server)
    plan = c.dry_run(PromptRequest("hi", workdir=str(tmp_path)))
    assert plan.backend == "stub"
    assert plan.argv[-2:] == ["--", "hi"]
    assert plan.cwd == str(tmp_path.resolve())
    assert c.list_sessions() == ([], 0)
    assert stub_server.stub_pids() == []


def test_server_errors_are_the_local_error_classes(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)
    with pytest.raises(UnknownBackend) as unknown:
        c.start(PromptRequest("hi", backend="nope"))
    assert unknown.value.exit_code == 2
    with pytest.raises(UnknownBackend, match="stub, stub2"):
        c.is_installed("nope")
    assert c.is_installed("stub2")
    with pytest.raises(SessionNotFound):
        c.start(PromptRequest("hi", resume="0123456789abcdef"))
    with pytest.raises(AuthError) as denied:
        clients(stub_server, key="wrong").list_sessions()
    assert stub_server.url in str(denied.value)
    assert "CLINVK_API_KEY" in str(denied.value)
    assert "wrong" not in str(denied.value)
    with pytest.raises(UsageError, match="--add-dir"):
        c.start(PromptRequest("hi", add_dirs=("/tmp",)))


def test_a_server_that_is_not_there(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    url = f"http://127.0.0.1:{port}"
    with (
        RemoteClient(url, api_key=None, config=Config(), note=print) as c,
        pytest.raises(ServerUnreachable) as info,
    ):
        c.list_sessions()
    assert info.value.exit_code == 1
    assert f"cannot connect to the clinvoker server at {url}: connection refused" in str(info.value)
    assert "clinvk serve" in str(info.value)


def test_leaving_a_run_early_stops_the_cli_on_the_server(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)

    async def go() -> str:
        handle = c.start(PromptRequest("x", model="hang"))
        async with handle:
            async for event in handle:
                if isinstance(event, TextDelta):
                    return event.text
        return ""

    assert asyncio.run(go()) == "thinking"
    [pid] = stub_server.stub_pids()
    wait_until(lambda: not alive(pid), what="the server to stop the hanging stub")
    [session], _ = c.list_sessions()
    wait_until(lambda: c.get_session(session.id).status == "error", what="the session to end")


def test_parallel_reports_progress_as_runs_start_and_end(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)
    spec = ParallelSpec(tasks=[Task(prompt="a"), Task(prompt="b", model="crash")])
    started: list[int] = []
    finished: dict[int, str] = {}

    def done(outcome: object) -> None:
        finished[outcome.index] = outcome.status  # type: ignore[attr-defined]

    report = asyncio.run(c.run_parallel(spec, on_start=started.append, on_done=done))
    assert sorted(started) == [0, 1]
    assert finished == {0: "completed", 1: "failed"}
    assert report.failed == 1
    assert report.results[0].output == "You said: a"
    assert report.results[1].exit_code == 3
    assert report.to_dict()["results"][1]["error"] == "stub crashed"


def test_task_fields_the_server_cannot_honour_are_refused(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)
    spec = ParallelSpec(tasks=[Task(prompt="a"), Task(prompt="b", timeout=5)])
    with pytest.raises(UsageError, match="task 2: timeout is not available with --server"):
        asyncio.run(c.run_parallel(spec))
    assert stub_server.stub_pids() == []


def test_a_connection_the_server_closed_while_idle_is_reopened(
    stub_server: ServerProcess, clients: Callable[..., Client]
) -> None:
    c = clients(stub_server)
    assert c.list_sessions() == ([], 0)
    conn = c.http._conn
    assert conn is not None
    sock = conn.sock
    assert sock is not None

    def closed_by_server() -> bool:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""

    wait_until(closed_by_server, timeout=15, what="the server to close the idle connection")
    assert c.backend_names() == ["stub", "stub2"]
