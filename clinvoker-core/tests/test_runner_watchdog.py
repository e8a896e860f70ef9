"""``kill -9`` of the process that uses the runner: its CLIs and their children still end.

Each case runs a real Python program that starts the fake CLI (with a grandchild) through
:class:`clinvoker.runner.Runner`, then kills or ends that program and watches what is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FAKE_CLI, pid_alive

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX only")

DEADLINE_S = 10.0  # the watchdog's grace (2 s) plus generous room for a loaded machine

USER = r"""
import asyncio, json, os, sys
from clinvoker import watchdog
from clinvoker.request import Command
from clinvoker.runner import Runner

async def main(fake, pidfile, grandchild, mode):
    command = Command(argv=(sys.executable, fake, "--hang", "--ignore-term",
                            "--pidfile", pidfile, "--grandchild", grandchild))
    async with Runner().process(command) as proc:
        async for _line in proc.lines():  # the init line: the grandchild is running by then
            break
        pipe = os.readlink("/proc/self/fd/%d" % watchdog._fd)
        print(json.dumps({"pid": proc.pid, "pipe": pipe}), flush=True)
        if mode == "hang":
            await asyncio.Event().wait()
        await proc.close()
    print("closed", flush=True)
    if mode == "finish-then-wait":
        sys.stdin.read()

asyncio.run(main(*sys.argv[1:]))
"""


def wait_until(check: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def open_files(pid: int) -> list[str]:
    """What each of ``pid``'s file descriptors refers to."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            found.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return found


def readers_of(pipe: str) -> dict[int, int]:
    """Live processes whose stdin is ``pipe`` (the watchdog's end of clinvoker's pipe): pid -> ppid.

    Right after the first spawn that may still be the short-lived process that forks the watchdog.
    """
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/fd/0") == pipe and pid_alive(int(name)):
                with open(f"/proc/{name}/stat", encoding="utf-8") as fh:
                    found[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
    return found


class User:
    """The program using the runner, its CLI's pid, the grandchild's pid and the watchdog's pid."""

    def __init__(self, tmp: Path, mode: str) -> None:
        self.pidfile, self.grandfile = tmp / "cli.pid", tmp / "grandchild.pid"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                USER,
                str(FAKE_CLI),
                str(self.pidfile),
                str(self.grandfile),
                mode,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seen: list[int] = []  # every pid found so far, killed by end()
        try:
            self._started()
        except BaseException:
            self.end()
            raise

    def _started(self) -> None:
        assert self.proc.stdout is not None
        started = json.loads(self.proc.stdout.readline())
        self.cli: int = started["pid"]
        self.seen.append(self.cli)
        grandchild = read_pid(self.grandfile)
        assert grandchild is not None
        assert pid_alive(grandchild)
        self.grandchild: int = grandchild
        self.seen.append(grandchild)
        assert os.getpgid(self.grandchild) == self.cli  # in the CLI's own group, not ours
        for pid in (self.cli, self.grandchild):  # else the watchdog would never see EOF
            assert started["pipe"] not in open_files(pid), f"{pid} inherited the watchdog's pipe"
        wait_until(  # the process that forks the watchdog is gone: no reader is our child
            lambda: self.proc.pid not in readers_of(started["pipe"]).values(),
            "the watchdog to detach",
        )
        watchdogs = list(readers_of(started["pipe"]))
        assert len(watchdogs) == 1, f"expected one watchdog on {started['pipe']}, got {watchdogs}"
        self.watchdog: int = watchdogs[0]
        self.seen.append(self.watchdog)

    def end(self) -> None:
        for pid in self.seen:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def user_factory(tmp_path: Path) -> Iterator[Callable[[str], User]]:
    users: list[User] = []

    def make(mode: str) -> User:
        users.append(User(tmp_path, mode))
        return users[-1]

    yield make
    for user in users:
        user.end()


def test_kill_9_of_the_user_ends_the_cli_and_its_grandchild(
    user_factory: Callable[[str], User],
) -> None:
    user = user_factory("hang")
    assert pid_alive(user.cli)
    assert pid_alive(user.watchdog)
    user.proc.send_signal(signal.SIGKILL)
    user.proc.wait(10)
    # both ignore SIGTERM: only the watchdog's SIGKILL after its grace period ends them
    wait_until(lambda: not pid_alive(user.cli), "the orphaned CLI to end")
    wait_until(lambda: not pid_alive(user.grandchild), "the orphaned grandchild to end")
    wait_until(lambda: not pid_alive(user.watchdog), "the watchdog to exit")


def test_the_watchdog_is_detached_from_the_user_and_its_terminal(
    user_factory: Callable[[str], User],
) -> None:
    user = user_factory("hang")
    with open(f"/proc/{user.watchdog}/stat", encoding="utf-8") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ppid, pgrp, session, tty = (int(f) for f in fields[1:5])
    assert ppid != user.proc.pid  # not one of the user's children: nothing for it to reap
    assert session != os.getsid(0)
    assert pgrp != os.getpgid(0)
    assert tty == 0  # no controlling terminal
    for fd in (1, 2):
        assert os.readlink(f"/proc/{user.watchdog}/fd/{fd}") == os.devnull
    assert sorted(os.listdir(f"/proc/{user.watchdog}/fd")) == ["0", "1", "2"]


def test_a_normal_exit_ends_the_watchdog_at_once(
    user_factory: Callable[[str], User],
) -> None:
    user = user_factory("finish-then-wait")
    assert user.proc.stdout is not None
    assert user.proc.stdout.readline().strip() == "closed"
    assert not pid_alive(user.cli)
    assert not pid_alive(user.grandchild)
    assert pid_alive(user.watchdog)  # stays while the user lives, in case it spawns again
    assert user.proc.stdin is not None
    user.proc.stdin.close()
    assert user.proc.wait(10) == 0
    wait_until(lambda: not pid_alive(user.watchdog), "the watchdog to exit", timeout=5)


INHERITABLE = r"""
import os, socket, sys
from clinvoker import watchdog
listener = socket.create_server(("127.0.0.1", 0))
listener.set_inheritable(True)  # as clinvk serve's is, for Hypercorn
watchdog.track(os.getpid())  # starts the watchdog (our own group: ended with us, and untracked)
starter = watchdog._starter
assert starter is not None
mine = os.readlink("/proc/self/fd/%d" % listener.fileno())
try:
    held = [os.readlink("/proc/%d/fd/%s" % (starter.pid, fd)) for fd in os.listdir("/proc/%d/fd" % starter.pid)]
except FileNotFoundError:  # already gone: it held nothing for long, but then this proves little
    held = []
watchdog.untrack(os.getpid())
print(mine in held, flush=True)
"""


def test_the_watchdog_never_holds_the_users_inheritable_descriptors() -> None:
    """A server's listening socket must close with the server, not linger in the watchdog."""
    done = subprocess.run(
        [sys.executable, "-c", INHERITABLE],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
