"""Working directories on the server: traversal and symlink escapes are refused.

The server allows only ``<root>/projects``. Requests try to leave it with ``..``, with symlinks
(to a sibling directory, to ``/etc``, through ``/proc``), with prefix tricks
(``projects-evil``), with relative and ``~`` paths, through every request that takes a workdir
(prompt, parallel, chain, compare), and by naming a directory in an extra CLI flag
(``--add-dir``). Each is answered 403/422 naming the problem, and no CLI is started; a request
inside the allowed tree runs in the *resolved* directory.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from reliability.conftest import server_config
from reliability.support.server import ServerProcess
from reliability.support.world import World


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server allowed only ``<root>/projects``, and a tree of ways out of it."""
    world = World(tmp_path_factory.mktemp("fenced"))
    root = Path(os.path.realpath(world.root))
    projects = root / "projects"
    (projects / "app" / "src").mkdir(parents=True)
    (root / "secret").mkdir()
    (root / "projects-evil").mkdir()
    (projects / "to-secret").symlink_to(root / "secret")
    (projects / "to-etc").symlink_to("/etc")
    (projects / "to-app").symlink_to(projects / "app")
    (projects / "app" / "up").symlink_to("../..")
    (projects / "notes.txt").write_text("not a directory")
    config = server_config(allowed_workdir_prefixes=[str(projects)])
    with ServerProcess(world, config=config) as server:
        yield server, root


ESCAPES = {
    "dotdot": "{root}/projects/../secret",
    "dotdot_deep": "{root}/projects/app/src/../../../secret",
    "symlink_out": "{root}/projects/to-secret",
    "symlink_etc": "{root}/projects/to-etc",
    "symlink_up": "{root}/projects/app/up",
    "symlink_up_then_out": "{root}/projects/app/up/secret",
    "prefix_trick": "{root}/projects-evil",
    "etc": "/etc",
    "proc_cwd": "/proc/self/cwd",
    "root": "/",
    "relative": "projects/app",
    "home": "~",
    "missing": "{root}/projects/nope",
    "a_file": "{root}/projects/notes.txt",
}


def body_for(kind: str, workdir: str, prompt: str) -> tuple[str, dict[str, Any]]:
    task = {"backend": "claude", "prompt": prompt, "workdir": workdir}
    if kind == "prompt":
        return "/api/v1/prompt", task
    if kind == "parallel":
        return "/api/v1/parallel", {"tasks": [task]}
    if kind == "chain":
        return "/api/v1/chain", {"steps": [{**task, "name": "one"}]}
    return "/api/v1/compare", {
        "backends": ["claude", "codex"],
        "prompt": prompt,
        "workdir": workdir,
    }


@pytest.mark.parametrize("kind", ["prompt", "parallel", "chain", "compare"])
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_a_workdir_outside_the_allowed_tree_is_refused(fenced: Any, escape: str, kind: str) -> None:
    server, root = fenced
    token = uuid.uuid4().hex
    workdir = ESCAPES[escape].format(root=root)
    path, body = body_for(kind, workdir, f"look around {token}")
    with server.client() as client:
        answer = client.post(path, json=body)
    assert answer.status_code in (403, 422), (
        f"{escape} via {kind}: {answer.status_code} {answer.text}"
    )
    message = answer.json()["error"]["message"]
    assert "work directory" in message or "workdir" in message, message
    assert not [c for c in server.world.calls() if token in c["prompt"]], "a CLI was started"


@pytest.mark.parametrize(
    "extra",
    [
        ["--add-dir", "{root}/secret"],
        ["--add-dir={root}/secret"],
        ["--add-dir", "{root}/projects/to-secret"],
        ["--add-dir", "/etc"],
        ["--ADD-DIR=/root"],
        ["--add-dir="],
    ],
    ids=["separate", "joined", "symlink", "etc", "upper-case", "empty"],
)
def test_an_extra_flag_cannot_open_a_directory_outside_the_tree(
    fenced: Any, extra: list[str]
) -> None:
    server, root = fenced
    token = uuid.uuid4().hex
    body = {
        "backend": "claude",
        "prompt": f"read it {token}",
        "workdir": str(root / "projects" / "app"),
        "extra": [e.format(root=root) for e in extra],
    }
    with server.client() as client:
        answer = client.post("/api/v1/prompt", json=body)
    assert answer.status_code in (403, 422), f"{extra}: {answer.status_code} {answer.text}"
    assert not [c for c in server.world.calls() if token in c["prompt"]], "a CLI was started"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("{root}/projects/app", "{root}/projects/app"),
        ("{root}/projects/app/src/..", "{root}/projects/app"),
        ("{root}/projects/to-app", "{root}/projects/app"),
        ("{root}/projects//app/./src", "{root}/projects/app/src"),
    ],
)
def test_a_workdir_inside_the_tree_runs_in_its_real_path(
    fenced: Any, given: str, resolved: str
) -> None:
    server, root = fenced
    token = uuid.uuid4().hex
    body = {"backend": "claude", "prompt": f"hello {token}", "workdir": given.format(root=root)}
    with server.client() as client:
        answer = client.post("/api/v1/prompt", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == f"echo: hello {token}"
    assert server.world.call_with(token)["cwd"] == resolved.format(root=root)


@pytest.mark.parametrize("kind", ["prompt", "parallel", "chain"])
@pytest.mark.parametrize(
    "extra",
    [["--add-dir", "{root}/projects/to-app"], ["--add-dir={root}/projects/to-app"]],
    ids=["separate", "joined"],
)
def test_a_directory_in_an_extra_flag_reaches_the_cli_as_the_real_path_that_was_checked(
    fenced: Any, extra: list[str], kind: str
) -> None:
    """An allowed symlink in ``--add-dir`` is handed on as its checked target, so swapping the
    link after the check cannot point the CLI outside the tree."""
    server, root = fenced
    token = uuid.uuid4().hex
    path, body = body_for(kind, str(root / "projects" / "app"), f"add it {token}")
    item = body if kind == "prompt" else (body.get("tasks") or body["steps"])[0]
    item["extra"] = [e.format(root=root) for e in extra]
    with server.client() as client:
        answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    argv = server.world.call_with(token)["argv"]
    target, link = str(root / "projects" / "app"), str(root / "projects" / "to-app")
    assert not [a for a in argv if link in a], argv
    expected = [f"--add-dir={target}"] if "=" in extra[0] else ["--add-dir", target]
    at = argv.index(expected[0])
    assert argv[at : at + len(expected)] == expected, argv
