"""--dry-run shows exactly how a prompt would reach each real backend, without running anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.clis import ClinvkRunner


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CLINVK_HOME": str(tmp_path / "clinvk"),
    }


@pytest.mark.parametrize("backend", ["claude", "gemini"])
def test_a_leading_dash_prompt_is_sent_on_stdin_and_the_dry_run_says_so(
    backend: str, env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(
        ["--dry-run", "-b", backend, "-o", "text", "--", "-rf; echo hi"], env, cwd=tmp_path
    )
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Would execute: ")
    assert "-rf; echo hi" not in lines[0]
    assert "  stdin: the prompt (12 bytes)" in lines
    assert not (tmp_path / "clinvk" / "sessions").exists() or not any(
        (tmp_path / "clinvk" / "sessions").glob("*.json")
    )


def test_a_plain_prompt_goes_after_double_dash_and_nothing_is_written_to_stdin(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["--dry-run", "-b", "codex", "-o", "json", "say hi"], env, cwd=tmp_path)
    assert rc == 0, err
    plan = json.loads(out)
    assert plan["command"][-2:] == ["--", "say hi"]
    assert plan["stdin_bytes"] is None
