"""The ``gemini`` backend: Google's Gemini CLI (``@google/gemini-cli``), driven headless.

Every run is ``gemini --skip-trust --output-format <fmt> [options] --prompt=<text>`` (or the
prompt on stdin with an empty ``--prompt``), in the request's working directory. See the
package README for the full option table and the CLI's quirks.
"""

from __future__ import annotations

import json
from typing import ClassVar

import msgspec
from clinvoker.backend import Backend, fold_events
from clinvoker.events import Error, Event, SessionStarted
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result

from clinvoker_gemini import output as out
from clinvoker_gemini.failures import (
    Failure,
    code_for_exit,
    describe,
    from_stderr,
    stderr_session_id,
)

__all__ = ["ARGV_PROMPT_LIMIT", "GeminiBackend"]

ARGV_PROMPT_LIMIT = 8 * 1024
"""Prompts longer than this (in UTF-8 bytes) go through stdin instead of argv."""

_FORMATS = {"stream": "stream-json", "json": "json", "text": "text"}
_APPROVAL = {"auto": "auto_edit", "none": "yolo", "always": "default"}
_POLICY_FILE = "clinvoker-disallowed-tools.toml"
_SYSTEM_FILE = "system.md"


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; lone surrogates (from lenient JSON) become ``?``."""
    return text.encode("utf-8", "replace")


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    escaped = json.dumps(text, ensure_ascii=False)
    return escaped.replace("\x7f", "\\u007f")


def disallowed_tools_policy(tools: tuple[str, ...]) -> bytes:
    """A gemini policy file denying ``tools``.

    ``run_shell_command(git push)`` denies shell commands starting with ``git push``; any other
    ``name(args)`` denies the whole tool ``name``.
    """
    rules = ["# Written by clinvoker for one run: the caller's disallowed tools.\n"]
    for spec in tools:
        name, _, rest = spec.partition("(")
        name = name.strip()
        if not name:
            continue
        lines = ["[[rule]]", f"toolName = {_toml_string(name)}"]
        prefix = rest[:-1].strip() if rest.endswith(")") else ""
        if name in ("run_shell_command", "ShellTool") and prefix:
            lines[1] = 'toolName = "run_shell_command"'
            lines.append(f"commandPrefix = {_toml_string(prefix)}")
        lines += ['decision = "deny"', "priority = 999"]
        rules.append("\n".join(lines) + "\n")
    return _utf8("\n".join(rules))


def _needs_stdin(prompt: str) -> bool:
    """Whether the prompt is unsafe or too big for an argv item."""
    return (
        len(_utf8(prompt)) > ARGV_PROMPT_LIMIT
        or prompt.startswith("-")
        or any(ch in prompt for ch in "\n\r\x00")
        or "{file:" in prompt
        or any("\ud800" <= ch <= "\udfff" for ch in prompt)
    )


class GeminiBackend(Backend):
    """Google's Gemini CLI (``gemini``), pinned and tested at 0.61.0."""

    name = "gemini"
    executable = "gemini"
    display_name = "Gemini CLI"
    install_hint = "npm install -g @google/gemini-cli"
    tested_versions = ">=0.61.0,<0.62"
    version_args = ("--version",)
    default_model = None
    models = (
        "auto",
        "pro",
        "flash",
        "flash-lite",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-3-pro-preview",
        "gemini-3.1-pro-preview",
        "gemini-3-flash-preview",
        "gemini-3-flash",
        "gemini-3.5-flash",
        "gemini-3.8-flash",
        "gemini-3.1-flash-lite",
        "gemini-3.5-flash-lite",
    )
    model_aliases: ClassVar[dict[str, str]] = {
        "fast": "flash",
        "quick": "flash",
        "balanced": "auto",
        "default": "auto",
        "best": "pro",
        "powerful": "pro",
    }
    capabilities = frozenset(
        {
            "resume",
            "continue",
            "system_prompt",
            "allowed_tools",
            "disallowed_tools",
            "approval",
            "sandbox",
            "session_id",
            "ephemeral",
            "stream",
        }
    )

    # -- command -----------------------------------------------------------------------------

    def build_command(self, request: RunRequest) -> Command:
        """The gemini invocation for ``request`` (headless, never interactive)."""
        argv = [self.executable, "--skip-trust", f"--output-format={_FORMATS[request.output]}"]
        env = {"GEMINI_CLI_NO_RELAUNCH": "true", **request.env}
        files: dict[str, bytes] = {}
        model = self.resolve_model(request.model)
        if model:
            argv.append(f"--model={model}")
        mode = self._approval_mode(request)
        if mode:
            argv.append(f"--approval-mode={mode}")
        argv += [f"--include-directories={d}" for d in request.add_dirs]
        if request.resume_session_id:
            argv.append(f"--resume={request.resume_session_id}")
        elif request.continue_last:
            argv.append("--resume=latest")
        elif request.new_session_id:
            argv.append(f"--session-id={request.new_session_id}")
        argv += [f"--allowed-tools={t}" for t in request.allowed_tools]
        if request.disallowed_tools:
            files[_POLICY_FILE] = disallowed_tools_policy(request.disallowed_tools)
            argv.append(f"--admin-policy={{file:{_POLICY_FILE}}}")
        prompt = request.prompt
        if request.system_prompt:
            if request.system_prompt_mode == "replace":
                files[_SYSTEM_FILE] = _utf8(request.system_prompt)
                env["GEMINI_SYSTEM_MD"] = f"{{file:{_SYSTEM_FILE}}}"
            else:
                prompt = f"{request.system_prompt}\n\n{prompt}"
        if request.verbose:
            argv.append("--debug")  # debug logs go to stderr; stdout stays clean
        argv += request.extra_flags
        stdin: bytes | None = None
        if _needs_stdin(prompt):
            # gemini reads stdin and appends the -p text after it; an empty -p keeps it headless.
            stdin = _utf8(prompt)
            argv += ["--prompt", ""]
        elif not prompt:
            argv += ["--prompt", ""]  # gemini refuses to run without input (exit 42)
        else:
            argv.append(f"--prompt={prompt}")
        return Command(argv=tuple(argv), env=env, stdin=stdin, cwd=request.workdir, files=files)

    @staticmethod
    def _approval_mode(request: RunRequest) -> str | None:
        if request.sandbox_mode == "read-only":
            return "plan"
        return _APPROVAL.get(request.approval_mode)

    def cleanup_commands(self, request: RunRequest, result: Result) -> list[Command]:
        """After an ephemeral run, delete the session gemini created (by id, in the same dir).

        A resumed or continued session existed before the run and is left alone.
        """
        if (
            not request.ephemeral
            or not result.session_id
            or request.resume_session_id
            or request.continue_last
        ):
            return []
        return [
            Command(
                argv=(self.executable, "--skip-trust", f"--delete-session={result.session_id}"),
                env={"GEMINI_CLI_NO_RELAUNCH": "true", **request.env},
                cwd=request.workdir,
            )
        ]

    @staticmethod
    def warnings(request: RunRequest) -> list[Event]:
        """Non-fatal notices for the parts of ``request`` gemini cannot honour."""
        notes: list[str] = []
        if request.max_turns is not None:
            notes.append(
                f"gemini has no max-turns option (only model.maxSessionTurns in "
                f"~/.gemini/settings.json); max_turns={request.max_turns} was ignored"
            )
        if request.system_prompt and request.system_prompt_mode == "append":
            notes.append(
                "gemini cannot append to its built-in system prompt; the system prompt text "
                "was sent ahead of the prompt instead"
            )
        if request.sandbox_mode == "read-only" and request.approval_mode in ("auto", "none"):
            notes.append(
                f"sandbox_mode=read-only runs gemini in plan mode; "
                f"approval_mode={request.approval_mode} was ignored"
            )
        if request.new_session_id and (request.resume_session_id or request.continue_last):
            notes.append("a preset session id only applies to new sessions; it was ignored")
        if request.ephemeral and (request.resume_session_id or request.continue_last):
            notes.append("an ephemeral turn of an existing gemini session does not delete it")
        return [Error(message=n, code="unsupported_option", fatal=False) for n in notes]

    # -- output ------------------------------------------------------------------------------

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        """Events for one stdout line (stream-json events, text lines; json is buffered)."""
        events: list[Event] = []
        if not state.data.get("warned"):
            state.data["warned"] = True
            events += self.warnings(state.request)
        kind = state.request.output
        if kind == "stream":
            events += out.stream_events(line, state)
        elif kind == "text":
            events += out.text_delta(line.rstrip(b"\r"), state)
        else:
            state.data.setdefault("json_lines", []).append(line)
        return events

    def parse_output(self, output: RunOutput) -> Result:
        """The final result, also from stderr-only failures (bad resume id, no API key...)."""
        state = output.state if isinstance(output.state, ParseState) else ParseState(output.request)
        events = list(output.events)
        kind = output.request.output
        if kind == "json":
            stdout = output.stdout
            if stdout is None:
                stdout = b"\n".join(state.data.get("json_lines", []))
            events += out.json_events(stdout, state) or []
        elif output.stdout is not None and not events:
            for line in output.stdout.splitlines():
                events += self.parse_stream(line, state)
        failure = self._failure(output, state, events)
        if failure is not None:
            events.append(Error(message=failure.message, code=failure.code, fatal=True))
        if "session_id" not in state.data:
            # json errors name it on stderr; text mode never prints it (we may have chosen it).
            sid = stderr_session_id(output.stderr)
            if not sid and kind == "text":
                sid = output.request.resume_session_id or output.request.new_session_id
            if sid:
                events.insert(
                    0,
                    SessionStarted(
                        session_id=sid, model=output.request.model, cwd=output.request.workdir
                    ),
                )
        result = fold_events(self.name, msgspec.structs.replace(output, events=tuple(events)))
        if result.error_code == "backend_error" and output.exit_code:
            result = msgspec.structs.replace(
                result, error_code=code_for_exit(output.exit_code) or "backend_error"
            )
        return msgspec.structs.replace(
            result,
            model=state.data.get("answered_by") or result.model,
            permission_denials=tuple(state.data.get("denials", ())),
            stop_reason="max_turns" if result.error_code == "max_turns" else None,
        )

    @staticmethod
    def _failure(output: RunOutput, state: ParseState, events: list[Event]) -> Failure | None:
        """The failure not yet reported as a fatal event, if the run failed."""
        if any(isinstance(e, Error) and e.fatal for e in events):
            return None
        pending: list[str] = state.data.get("pending_errors", [])
        if pending:
            return describe(pending[-1], exit_code=output.exit_code)
        found = from_stderr(output.stderr, output.exit_code)
        if found is not None:
            return found
        if output.exit_code != 0:
            code = code_for_exit(output.exit_code) or "crashed"
            return Failure(f"gemini exited with code {output.exit_code}", code)
        if output.request.output != "text" and not state.data.get("result_seen"):
            return Failure(
                "gemini stopped without reporting a result (its output ended early or was not "
                "the expected JSON); the answer may be incomplete",
                "malformed_output",
            )
        return None
