"""The example third-party backend (``examples/clinvoker-backend-echo``), pip-installed into a
fresh virtual environment, is discovered through its entry point and runs end to end."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "clinvoker-backend-echo"


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv that sees this environment's packages (clinvoker-core, hatchling) and
    has the example installed into it by pip, from its source tree, without the network."""
    venv = tmp_path_factory.mktemp("echo") / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this Python cannot create virtualenvs with pip: {made.stderr.strip()}")
    python = bin_dir(venv) / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = "; ".join(f"site.addsitedir({p!r})" for p in site.getsitepackages())
    (Path(purelib) / "_parent_environment.pth").write_text(f"import site; {parents}\n")
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def run_in(venv: Path, code: str, tmp_path: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(bin_dir(venv)), os.environ.get("PATH", "")]),
        "CLINVK_HOME": str(tmp_path / "home"),
    }
    env.pop("CLINVK_CONFIG", None)
    env.pop("CLINVK_DISABLE_PLUGINS", None)
    out = subprocess.run(
        [str(bin_dir(venv) / "python"), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.slow
def test_the_installed_example_is_discovered(venv: Path, tmp_path: Path) -> None:
    found = run_in(
        venv,
        """
        import json
        from importlib.metadata import entry_points
        from clinvoker.plugins import PluginHost
        from clinvoker.request import RunRequest

        host = PluginHost()
        echo = host.backend("echo")
        command = host.build_command(echo, RunRequest(prompt="hi there", backend="echo"))
        (ep,) = [e for e in entry_points(group="clinvoker") if e.name == "echo"]
        print(json.dumps({
            "dist": ep.dist.name,
            "module": type(echo).__module__,
            "argv0": command.argv[0],
            "stdin": command.stdin.decode(),
            "failures": [f.name for f in host.failures],
        }))
        """,
        tmp_path,
    )
    assert found == {
        "dist": "clinvoker-backend-echo",
        "module": "clinvoker_echo",
        "argv0": "python3",
        "stdin": "hi there",
        "failures": [],
    }


@pytest.mark.slow
def test_the_example_runs_end_to_end_through_the_library(venv: Path, tmp_path: Path) -> None:
    done = run_in(
        venv,
        """
        import asyncio, json
        import clinvoker

        async def main():
            events = [type(e).__name__ async for e in clinvoker.stream("warm up", backend="echo")]
            result = await clinvoker.run("hello brave new world", backend="echo")
            again = await clinvoker.run("and again", resume=result.clinvk_session_id)
            return events, result, again

        events, result, again = asyncio.run(main())
        print(json.dumps({
            "events": events,
            "content": result.content,
            "ok": result.ok,
            "usage": [result.usage.input_tokens, result.usage.output_tokens],
            "resumed_same_conversation": again.session_id == result.session_id,
            "again": again.content,
        }))
        """,
        tmp_path,
    )
    assert done["events"] == [
        "SessionStarted",
        "TextDelta",
        "TextDelta",
        "UsageReport",
        "Done",
    ]
    assert done["content"] == "hello brave new world"
    assert done["ok"] is True
    assert done["usage"] == [4, 4]
    assert done["resumed_same_conversation"] is True
    assert done["again"] == "and again"
