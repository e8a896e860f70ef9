"""The ``claude`` backend: Claude Code driven with ``claude -p``.

Command building follows what Claude Code 2.1.197-2.1.330 accepts; parsing lives in
:mod:`clinvoker_claude.stream`. Pure: no I/O, no subprocesses.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from clinvoker.backend import Backend, fold_events
from clinvoker.events import Error, Event
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result

from clinvoker_claude.failures import Failure, classify_api_error, classify_startup_failure
from clinvoker_claude.stream import StreamState, parse_line, stream_state

__all__ = ["ClaudeBackend", "permission_mode"]

PROMPT_ARGV_LIMIT = 8 * 1024
"""Prompts longer than this (in UTF-8 bytes) go through stdin."""
SYSTEM_PROMPT_ARGV_LIMIT = 64 * 1024
"""System prompts longer than this are passed in a file (Linux caps one argument at 128 KiB)."""
SYSTEM_PROMPT_FILE = "system-prompt.txt"

_OUTPUT_FLAGS: dict[str, tuple[str, ...]] = {
    "stream": ("--output-format=stream-json", "--verbose", "--include-partial-messages"),
    "json": ("--output-format=json",),
    "text": ("--output-format=text",),
}
_APPROVAL_MODES = {"auto": "acceptEdits", "none": "bypassPermissions", "always": "default"}


def permission_mode(approval_mode: str, sandbox_mode: str) -> str | None:
    """Claude's ``--permission-mode`` for the unified approval and sandbox modes.

    An explicit approval mode wins; otherwise sandbox ``read-only`` becomes ``plan`` (Claude
    reads and plans but edits nothing). ``workspace`` is Claude's default behaviour (edits only
    inside the working directory and ``--add-dir`` directories) and ``full`` has no equivalent.
    """
    if approval_mode in _APPROVAL_MODES:
        return _APPROVAL_MODES[approval_mode]
    if sandbox_mode == "read-only":
        return "plan"
    return None


def _prompt_via_stdin(prompt: str) -> bool:
    return (
        prompt.startswith("-")
        or "\n" in prompt
        or "\r" in prompt
        or "\x00" in prompt
        or len(prompt.encode("utf-8", "surrogatepass")) > PROMPT_ARGV_LIMIT
    )


class ClaudeBackend(Backend):
    """Claude Code (``@anthropic-ai/claude-code``) behind the unified request."""

    name = "claude"
    executable = "claude"
    display_name = "Claude Code"
    install_hint = "npm install -g @anthropic-ai/claude-code"
    tested_versions = ">=2.1.197,<=2.1.330"
    version_args = ("--version",)
    default_model = None
    models = (
        "haiku",
        "sonnet",
        "opus",
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-sonnet-4-6",
        "claude-sonnet-5",
        "claude-opus-4-5",
        "claude-opus-4-6",
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-fable-5",
    )
    model_aliases: ClassVar[dict[str, str]] = {
        "fast": "haiku",
        "quick": "haiku",
        "balanced": "sonnet",
        "default": "sonnet",
        "best": "opus",
        "powerful": "opus",
    }
    capabilities = frozenset(
        {
            "stream",
            "resume",
            "continue",
            "session_id",
            "ephemeral",
            "system_prompt",
            "append_system_prompt",
            "max_turns",
            "allowed_tools",
            "disallowed_tools",
            "add_dirs",
            "approval",
            "sandbox",
            "cost",
        }
    )

    # -- command -------------------------------------------------------------------------------

    def build_command(self, request: RunRequest) -> Command:
        """``claude -p`` with one flag per unified option; the prompt goes last, after ``--``,
        or through stdin when it is long, multi-line or starts with ``-``."""
        argv: list[str] = [self.executable, "-p"]
        model = self.resolve_model(request.model)
        if model:
            argv.append(f"--model={model}")
        argv.extend(_OUTPUT_FLAGS.get(request.output, _OUTPUT_FLAGS["stream"]))
        if request.verbose and request.output == "text":
            argv.append("--verbose")  # with json it would turn the output into a list
        argv.extend(_conversation_flags(request))
        files: dict[str, bytes] = {}
        argv.extend(_system_prompt_flags(request, files))
        mode = permission_mode(request.approval_mode, request.sandbox_mode)
        if mode:
            argv.append(f"--permission-mode={mode}")
        if request.allowed_tools:
            argv.append("--allowedTools=" + ",".join(request.allowed_tools))
        if request.disallowed_tools:
            argv.append("--disallowedTools=" + ",".join(request.disallowed_tools))
        if request.max_turns is not None and request.max_turns > 0:
            argv.append(f"--max-turns={request.max_turns}")
        argv.extend(f"--add-dir={d}" for d in request.add_dirs)
        argv.extend(request.extra_flags)
        stdin: bytes | None = None
        if _prompt_via_stdin(request.prompt):
            stdin = request.prompt.encode("utf-8", "surrogatepass")
        else:
            argv.extend(("--", request.prompt))
        return Command(
            argv=tuple(argv),
            env=dict(request.env),
            stdin=stdin,
            cwd=request.workdir,
            files=files,
        )

    # -- parsing -------------------------------------------------------------------------------

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        """Events for one line of ``claude`` stdout (any output format)."""
        return parse_line(line, state)

    def parse_output(self, output: RunOutput) -> Result:
        """The final result: folded events, plus what only the ``result`` event or the exit
        status tell (turns, stop reason, permission denials, start-up failures)."""
        request = output.request
        state = output.state if isinstance(output.state, ParseState) else ParseState(request)
        events = list(output.events)
        if output.stdout is not None:  # not streamed: no line went through parse_stream yet
            for line in _stdout_lines(output.stdout):
                events.extend(parse_line(line, state))
        st = stream_state(state)
        folded = fold_events(
            self.name, msgspec.structs.replace(output, events=tuple(events), state=state)
        )
        content, error, code = folded.content, folded.error, folded.error_code
        if not any(isinstance(ev, Error) and ev.fatal for ev in events):
            failure = _unreported_failure(output, st, content)
            if failure is not None:
                error, code = failure.message, failure.code
                if request.output == "text" and output.exit_code != 0:
                    content = ""  # text mode printed the error where the answer would be
        return msgspec.structs.replace(
            folded,
            content=content,
            error=error,
            error_code=code,
            session_id=folded.session_id or _known_session_id(request, st),
            model=folded.model or request.model,
            **_result_details(st),
            backend_state=_backend_state(request, st),
        )


def _conversation_flags(request: RunRequest) -> list[str]:
    flags: list[str] = []
    if request.resume_session_id:
        flags.append(f"--resume={request.resume_session_id}")
    elif request.continue_last:
        flags.append("--continue")
    elif request.new_session_id:
        flags.append(f"--session-id={request.new_session_id}")
    if request.ephemeral:
        flags.append("--no-session-persistence")
    return flags


def _system_prompt_flags(request: RunRequest, files: dict[str, bytes]) -> list[str]:
    text = request.system_prompt
    if not text:
        return []
    flag = "--append-system-prompt" if request.system_prompt_mode == "append" else "--system-prompt"
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > SYSTEM_PROMPT_ARGV_LIMIT or "\x00" in text:
        files[SYSTEM_PROMPT_FILE] = data
        return [f"{flag}-file", f"{{file:{SYSTEM_PROMPT_FILE}}}"]
    return [f"{flag}={text}"]


def _stdout_lines(stdout: bytes) -> list[bytes]:
    lines = stdout.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _unreported_failure(output: RunOutput, st: StreamState, content: str) -> Failure | None:
    """A failure no fatal event reported: a synthetic error without a result, an error printed
    as text, a start-up failure on stderr, or a run that ended without a result."""
    if st.pending_error is not None:
        return st.pending_error
    if output.request.output == "text":
        if output.exit_code != 0 and content.strip():
            message = content.strip().splitlines()[-1]
            return Failure(message, classify_api_error(message))
    elif output.exit_code == 0 and st.result is None:
        seen = f"; it printed: {st.non_json[0]}" if st.non_json else ""
        return Failure(
            f"claude exited without reporting a result{seen}. "
            "Check that the installed claude is a supported version (`clinvk backends`)",
            "malformed_output",
        )
    if output.exit_code != 0:
        return classify_startup_failure(output.stderr, output.exit_code)
    return None


def _known_session_id(request: RunRequest, st: StreamState) -> str | None:
    """The session id text mode never prints: the preset or resumed one, once the CLI ran."""
    if request.output != "text" or not st.text_lines:
        return None
    return request.resume_session_id or (None if request.continue_last else request.new_session_id)


def _result_details(st: StreamState) -> dict[str, Any]:
    result = st.result
    if result is None:
        return {}
    turns = result.get("num_turns")
    stop = "max_turns" if result.get("subtype") == "error_max_turns" else result.get("stop_reason")
    denials = result.get("permission_denials")
    return {
        "num_turns": turns if isinstance(turns, int) and not isinstance(turns, bool) else None,
        "stop_reason": stop if isinstance(stop, str) else None,
        "permission_denials": tuple(
            _denial(d)
            for d in (denials if isinstance(denials, list) else [])
            if isinstance(d, dict)
        ),
    }


def _denial(denial: dict[str, Any]) -> str:
    """A denied tool call in Claude's permission-rule syntax (``Bash(touch x)``), so it can be
    passed back as an allowed tool."""
    name = denial.get("tool_name")
    name = name if isinstance(name, str) and name else "unknown tool"
    tool_input = denial.get("tool_input")
    if isinstance(tool_input, dict):
        for key in ("command", "file_path", "notebook_path", "path", "url"):
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                return f"{name}({value})"
    return name


def _backend_state(request: RunRequest, st: StreamState) -> dict[str, Any]:
    state = dict(request.resume_state)
    if st.figures is not None and st.figures.cumulative_cost_usd is not None:
        state["cumulative_cost_usd"] = st.figures.cumulative_cost_usd
    if st.cli_version:
        state["claude_code_version"] = st.cli_version
    return state
