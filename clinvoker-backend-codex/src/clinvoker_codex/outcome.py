"""The final :class:`~clinvoker.result.Result` of one ``codex exec`` run."""

from __future__ import annotations

from typing import Any

from clinvoker.events import Event, TextDelta
from clinvoker.request import RunOutput
from clinvoker.result import Result

from clinvoker_codex.diagnose import banner_value, classify, stderr_error
from clinvoker_codex.stream import RunNotes, usage_from_dict, usage_to_dict

__all__ = ["build_result"]


def build_result(
    name: str,
    output: RunOutput,
    events: list[Event],
    run: RunNotes,
    model: str | None,
) -> Result:
    """Fold the run's events and notes (and stderr, for what only stderr knows) into a Result."""
    request = output.request
    content = "".join(ev.text for ev in events if isinstance(ev, TextDelta))
    thread = run.thread_id
    if request.output == "text":  # the banner on stderr is all text mode has to say
        thread = thread or banner_value(output.stderr, "session id")
        model = model or banner_value(output.stderr, "model")
    message, code = _error(output, run)
    state: dict[str, Any] = {}
    if thread:
        state["thread_id"] = thread
        cumulative = run.cumulative
        # A failed turn adds nothing to codex's running total: carry the previous one forward.
        # A text-mode turn did add to it, by an amount text mode does not print.
        if (
            cumulative is None
            and request.output != "text"
            and request.resume_state.get("thread_id") == thread
        ):
            cumulative = usage_from_dict(request.resume_state.get("cumulative_usage"))
        if cumulative is not None:
            state["cumulative_usage"] = usage_to_dict(cumulative)
    text_ok = request.output == "text" and output.exit_code == 0 and message is None
    turns = (run.turns_completed + run.turns_failed) or (1 if text_ok else None)
    if message is not None:
        stop_reason: str | None = "error"
    else:
        stop_reason = "end_turn" if run.turns_completed or text_ok else None
    return Result(
        backend=name,
        content=content,
        session_id=thread,
        model=model,
        usage=run.usage,
        exit_code=output.exit_code,
        duration_s=output.duration_s,
        error=message,
        error_code=code,
        stop_reason=stop_reason,
        num_turns=turns,
        permission_denials=tuple(run.denials),
        backend_state=state,
    )


def _error(output: RunOutput, run: RunNotes) -> tuple[str | None, str | None]:
    if run.fatal is not None:
        return run.fatal
    if output.exit_code != 0:
        message, code = stderr_error(output.stderr, output.exit_code)
        if code == "crashed" and run.last_notice:
            # Stopped (timeout, signal) while codex was still retrying: say what it retried.
            return (
                f"codex exited with code {output.exit_code} while retrying: {run.last_notice}",
                classify(run.last_notice),
            )
        return message, code
    if output.request.output != "text" and run.thread_id is None:
        detail = f" (stderr: {output.stderr.strip()[-300:]})" if output.stderr.strip() else ""
        return (
            "codex exited without printing any `codex exec --json` event" + detail,
            "malformed_output",
        )
    return None, None
