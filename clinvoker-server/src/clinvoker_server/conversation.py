"""Turning a stateless chat request into one prompt for a coding-agent CLI.

The OpenAI and Anthropic APIs resend the whole conversation on every call. For now the server
flattens it into a single prompt (the runs are ephemeral): a lone user message is the prompt as
is; a longer conversation becomes a transcript followed by the last user message::

    Conversation so far:

    [user]
    What is 2+2?

    [assistant]
    4

    Reply to this message:
    And times 3?

System (and OpenAI ``developer``) messages are joined into the system prompt, which is *appended*
to the agent's own so it keeps its tools. A later version will recognise a continuation and
resume the backend's native session instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from clinvoker_server.errors import invalid_field

__all__ = ["Turn", "check_text", "flatten", "text_of"]

Turn = tuple[str, str]
"""(role, text) of one message, role ``user`` or ``assistant``."""

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


def text_of(content: str | Sequence[Any] | None, param: str) -> str:
    """The text of a message's content: a string, or a list of text parts (others are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list | tuple):
        raise invalid_field(
            f"{param} must be a string or a list of content parts, not {type(content).__name__}",
            param,
        )
    texts: list[str] = []
    for i, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(part, dict):
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_field(f"{param}[{i}].text must be a string", f"{param}[{i}].text")
            texts.append(text)
        elif kind in ("tool_result", "tool_use", "refusal", "thinking", "redacted_thinking"):
            continue
        else:
            raise invalid_field(
                f"content part {param}[{i}] of type {kind!r} is not supported; "
                "only text parts can be sent to a coding-agent CLI",
                f"{param}[{i}]",
            )
    return "\n".join(texts)


def flatten(turns: Iterable[Turn]) -> str:
    """One prompt from the conversation (see the module docstring)."""
    items = [(role, text) for role, text in turns if text.strip()]
    if not any(role == "user" for role, _ in items):
        raise invalid_field(
            "the conversation has no user message with text; send at least one", "messages"
        )
    last_user = max(i for i, (role, _) in enumerate(items) if role == "user")
    if len(items) == 1:
        return items[0][1]
    history = items[:last_user]
    tail = items[last_user + 1 :]
    parts: list[str] = []
    if history:
        parts.append("Conversation so far:\n")
        parts.extend(f"[{role}]\n{text}\n" for role, text in history)
    parts.append(("Reply to this message:\n" if history else "") + items[last_user][1])
    if tail:
        parts.append("\n".join(f"[{role}]\n{text}" for role, text in tail))
    return "\n".join(parts)


def join_system(texts: Iterable[str]) -> str | None:
    """The system prompt from system messages (``None`` when there is none)."""
    joined = "\n\n".join(t for t in texts if t.strip())
    return joined or None


def check_text(value: str | None, param: str) -> None:
    """Refuse a NUL character: it cannot be passed to a process (argv, environment)."""
    if value and "\x00" in value:
        raise invalid_field(
            f"{param} contains a NUL character, which cannot be passed to a CLI; remove it", param
        )
