"""The ``codex`` backend: ``codex exec`` command lines in, normalized events and results out.

Pure: builds argv and parses output; never spawns, reads files or touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from clinvoker.backend import Backend
from clinvoker.events import Error, Event
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result

from clinvoker_codex.outcome import build_result
from clinvoker_codex.stream import notes, parse_line

__all__ = ["STDIN_THRESHOLD", "CodexBackend", "permission_flags", "toml_string"]

STDIN_THRESHOLD = 8 * 1024
"""Prompts longer than this many UTF-8 bytes go through stdin instead of argv."""

INSTRUCTIONS_FILE = "instructions.md"
"""Name of the temporary file that carries a replacement system prompt."""

_SANDBOXES: Mapping[str, str] = {
    "read-only": "read-only",
    "workspace": "workspace-write",
    "full": "danger-full-access",
}
# Sandbox used when only an approval mode is given (`codex exec` never asks for approval).
_SANDBOX_FOR_APPROVAL: Mapping[str, str] = {"auto": "workspace", "always": "read-only"}

_VERSION_RE = re.compile(r"codex-cli\s+(\d+\.\d+\.\d+)")


def permission_flags(approval: str, sandbox: str) -> tuple[list[str], str | None]:
    """The ``codex exec`` flags for a unified approval and sandbox mode, and a warning if any.

    ``codex exec`` is non-interactive: its approval policy is always ``never`` (a
    ``-c approval_policy=...`` override is ignored, ``untrusted`` is rejected), so approval modes
    map onto sandboxes. See the package README for the whole table.
    """
    if approval == "none" and sandbox in ("default", "full"):
        return ["--dangerously-bypass-approvals-and-sandbox"], None
    if sandbox == "default":
        sandbox = _SANDBOX_FOR_APPROVAL.get(approval, "default")
    native = _SANDBOXES.get(sandbox)
    flags = ["-s", native] if native else []
    warning = None
    if approval == "always" and sandbox in ("workspace", "full"):
        warning = (
            f"codex exec cannot ask for approval: with approval 'always' and sandbox "
            f"{sandbox!r} it runs commands without asking ({native} sandbox); use sandbox "
            "'read-only' to keep it from changing anything"
        )
    return flags, warning


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (for ``-c key=<value>``, whose value is parsed as TOML)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _prompt_bytes(prompt: str) -> tuple[bytes, bool]:
    """The prompt's UTF-8 bytes and whether it must go through stdin rather than argv."""
    try:
        data = prompt.encode("utf-8")
        clean = "\x00" not in prompt
    except UnicodeEncodeError:
        data, clean = prompt.encode("utf-8", "replace"), False
    use_stdin = (
        not clean
        or prompt.startswith("-")
        or "\n" in prompt
        or "\r" in prompt
        or len(data) > STDIN_THRESHOLD
    )
    return data, use_stdin


class CodexBackend(Backend):
    """OpenAI Codex CLI, driven through ``codex exec``."""

    name: ClassVar[str] = "codex"
    executable: ClassVar[str] = "codex"
    display_name: ClassVar[str] = "OpenAI Codex CLI"
    install_hint: ClassVar[str] = "npm install -g @openai/codex"
    tested_versions: ClassVar[str] = ">=0.169.0,<0.170"
    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    models: ClassVar[tuple[str, ...]] = (
        "gpt-6.1-sol",
        "gpt-6-astra",
        "gpt-6.1-terra",
        "gpt-6-sol",
        "gpt-6-luna",
        "gpt-5.6-sol",
        "gpt-5.6-terra",
        "gpt-5.6-luna",
        "gpt-5.5",
    )
    model_aliases: ClassVar[Mapping[str, str]] = {
        "fast": "gpt-6-luna",
        "quick": "gpt-6-luna",
        "balanced": "gpt-6.1-sol",
        "default": "gpt-6.1-sol",
        "best": "gpt-6-astra",
        "powerful": "gpt-6-astra",
    }
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "resume",
            "continue",
            "system_prompt",
            "append_system_prompt",
            "sandbox",
            "approval",
            "ephemeral",
            "stream",
        }
    )

    # -- command --------------------------------------------------------------------------------

    def build_command(self, request: RunRequest) -> Command:
        """``codex exec [flags] [(resume|fork) -- ID | resume --last --] (-- PROMPT | -)``.

        Always non-interactive and unwedgeable: ``--skip-git-repo-check`` (else it refuses to
        run outside a git repo), ``--disable unbounded_connection_retries`` (else it retries an
        unreachable API forever), and stdin closed unless it carries the prompt.
        """
        argv = [
            self.executable,
            "exec",
            "--skip-git-repo-check",
            "--disable",
            "unbounded_connection_retries",
        ]
        if request.output != "text":
            argv.append("--json")
        model = self.resolve_model(request.model)
        if model:
            argv += ["-m", model]
        if request.workdir:
            argv += ["-C", request.workdir]
        for directory in request.add_dirs:
            argv += ["--add-dir", directory]
        argv += permission_flags(request.approval_mode, request.sandbox_mode)[0]
        files: dict[str, bytes] = {}
        if request.system_prompt:
            if request.system_prompt_mode == "append":
                argv += ["-c", "developer_instructions=" + toml_string(request.system_prompt)]
            else:
                files[INSTRUCTIONS_FILE] = request.system_prompt.encode("utf-8", "replace")
                argv += ["-c", f'model_instructions_file="{{file:{INSTRUCTIONS_FILE}}}"']
        if request.ephemeral:
            argv.append("--ephemeral")
        argv += request.extra_flags
        data, use_stdin = _prompt_bytes(request.prompt)
        prompt = "-" if use_stdin else request.prompt
        if request.resume_session_id:
            # `resume --ephemeral` still appends the turn to the thread's rollout; a fork of it
            # with --ephemeral leaves the original untouched and records nothing.
            verb = "fork" if request.ephemeral else "resume"
            argv += [verb, "--", request.resume_session_id, prompt]
        elif request.continue_last:
            argv += ["resume", "--last", "--", prompt]
        else:
            argv += ["-"] if use_stdin else ["--", prompt]
        return Command(
            argv=tuple(argv),
            env=dict(request.env),
            stdin=data if use_stdin else None,
            cwd=request.workdir,
            files=files,
        )

    # -- output ---------------------------------------------------------------------------------

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        """Events for one stdout line (``--json`` events, or final-message text in text mode)."""
        run = notes(state)
        if run.started:
            return parse_line(line, state)
        run.started = True
        run.model = self.resolve_model(state.request.model)
        return [*self.warnings(state.request), *parse_line(line, state)]

    def parse_output(self, output: RunOutput) -> Result:
        """The final result, from streamed events, captured stdout, or stderr alone."""
        state = output.state if isinstance(output.state, ParseState) else None
        if state is None:
            state = ParseState(output.request)
        events: list[Event] = list(output.events)
        if output.stdout is not None and not events:
            body = output.stdout
            if output.request.output == "text":
                lines = body.removesuffix(b"\n").split(b"\n") if body else []
            else:
                lines = [line for line in body.split(b"\n") if line.strip()]
            events = [ev for line in lines for ev in self.parse_stream(line, state)]
        return build_result(
            self.name, output, events, notes(state), self.resolve_model(output.request.model)
        )

    def warnings(self, request: RunRequest) -> list[Event]:
        """Non-fatal errors for the options ``codex exec`` cannot honour (emitted first)."""
        out: list[Event] = []

        def warn(message: str) -> None:
            out.append(Error(message=message, code="unsupported_option", fatal=False))

        if request.max_turns is not None:
            warn(f"codex has no max-turns option; max_turns={request.max_turns} is ignored")
        if request.allowed_tools or request.disallowed_tools:
            warn(
                "codex cannot allow or disallow individual tools; allowed_tools/disallowed_tools "
                "are ignored (use the sandbox mode to limit what it can do)"
            )
        if request.new_session_id:
            warn(
                "codex cannot start a conversation under a preset id; new_session_id is ignored "
                "(its own thread id is reported when the run starts)"
            )
        resuming = bool(request.resume_session_id or request.continue_last)
        if request.system_prompt and request.system_prompt_mode == "append" and resuming:
            warn(
                "codex applies an appended system prompt (developer_instructions) only when a "
                "thread starts; it has no effect on a resumed thread (a replacing system prompt "
                "does apply)"
            )
        if request.ephemeral and request.continue_last and not request.resume_session_id:
            warn(
                "codex records the turn in the continued thread even with --ephemeral; resume "
                "by id instead for an ephemeral continuation (it forks the thread)"
            )
        warning = permission_flags(request.approval_mode, request.sandbox_mode)[1]
        if warning:
            out.append(Error(message=warning, code="unsupported_option", fatal=False))
        return out

    def parse_version(self, text: str) -> str | None:
        """``codex-cli 0.169.0`` → ``0.169.0`` (ignoring any warning printed around it)."""
        m = _VERSION_RE.search(text)
        return m[1] if m else super().parse_version(text)
