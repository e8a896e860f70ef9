"""What the fake model API remembers about each request it received.

Every provider request is summarised into a :class:`LoggedRequest`: the model, the stream flag,
the conversation as ``roles``/``texts`` (one entry per message or input item), the system prompt,
the declared tool names, a few headers (secrets redacted), and the full parsed body. Tests assert
on these, e.g. "the resumed call sent the first turn's history"::

    second = fake_api.model_calls()[-1]
    assert second.roles == ["user", "assistant", "user"]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LOGGED_HEADERS", "LoggedRequest", "Summary", "redact", "summarize"]

LOGGED_HEADERS = (
    "user-agent",
    "content-type",
    "accept",
    "anthropic-version",
    "anthropic-beta",
    "x-app",
    "x-claude-code-session-id",
    "originator",
    "session-id",
    "thread-id",
    "x-goog-api-client",
    "traceparent",
    "x-api-key",
    "authorization",
    "x-goog-api-key",
)
"""Headers copied into the log (lower-case). Credentials among them are redacted."""

_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "x-goog-api-key"})
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


def redact(name: str, value: str) -> str:
    """Hide a credential but keep enough to tell which one was sent (``sk-test`` → ``sk-t***``)."""
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, token = value.rpartition(" ")
    return f"{scheme} {token[:4]}***" if scheme else f"{token[:4]}***"


@dataclass
class Summary:
    """The provider-independent view of one request body."""

    model: str | None = None
    stream: bool | None = None
    roles: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    system: str | None = None
    tools: list[str] = field(default_factory=list)
    last_user_text: str = ""
    """Text of the last user message, without injected ``<system-reminder>`` blocks."""
    ends_with_tool_result: bool = False
    """The conversation's last item is a tool's result (the agent is waiting for the model)."""
    json_schema: dict[str, Any] | None = None
    """A JSON schema the reply must follow (Gemini's router and other structured side calls)."""


@dataclass
class LoggedRequest:
    """One request the fake API received (admin calls are not logged)."""

    seq: int
    time: float
    method: str
    path: str
    """Path after any ``/__mode/…/`` and ``/__tag/…/`` prefix, without the query."""
    query: dict[str, str]
    mode: str
    tag: str | None
    provider: str
    """``anthropic``, ``openai``, ``gemini``, ``probe`` (Claude's ``HEAD /``) or ``unknown``."""
    endpoint: str
    """E.g. ``messages``, ``responses``, ``chat.completions``, ``streamGenerateContent``."""
    headers: dict[str, str]
    model: str | None = None
    stream: bool | None = None
    n_messages: int = 0
    roles: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    system: str | None = None
    tools: list[str] = field(default_factory=list)
    last_user_text: str = ""
    """The last user message's text, without injected ``<system-reminder>`` blocks."""
    status: int = 0
    """Status the fake answered with: 200 also for streams it broke on purpose, 0 while a model
    call is still being held back (``slow`` mode)."""
    body: Any = None
    """The parsed JSON body (left out of ``GET /__admin/log`` unless ``?bodies=1``)."""

    @property
    def is_model_call(self) -> bool:
        """True for calls that ask a model for an answer (not probes, counts or listings)."""
        return self.endpoint in {
            "messages",
            "responses",
            "chat.completions",
            "generateContent",
            "streamGenerateContent",
        }

    def to_dict(self, *, with_body: bool = False) -> dict[str, Any]:
        """JSON-ready form, as served by ``GET /__admin/log``."""
        data = asdict(self)
        if not with_body:
            data.pop("body")
        data["is_model_call"] = self.is_model_call
        return data


def _join(parts: list[str]) -> str:
    return "\n".join(p for p in parts if p)


def _clean(text: str) -> str:
    return _REMINDER.sub("", text).strip()


def _last_clean_text(parts: list[str]) -> str:
    for part in reversed(parts):
        if cleaned := _clean(part):
            return cleaned
    return ""


def _anthropic_parts(content: Any) -> tuple[list[str], bool]:
    """Text parts of an Anthropic message ``content`` and whether it holds a tool result."""
    if isinstance(content, str):
        return [content], False
    parts: list[str] = []
    has_result = False
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            parts.append(f"[tool_use {block.get('name')}]")
        elif kind == "tool_result":
            has_result = True
            inner, _ = _anthropic_parts(block.get("content", ""))
            parts.append("[tool_result] " + _join(inner))
    return parts, has_result


def _summarize_anthropic(body: dict[str, Any]) -> Summary:
    out = Summary(model=body.get("model"), stream=bool(body.get("stream", False)))
    system = body.get("system")
    if system is not None:
        out.system = _join(_anthropic_parts(system)[0])
    last_parts: list[str] = []
    for message in body.get("messages") or []:
        parts, has_result = _anthropic_parts(message.get("content", ""))
        out.roles.append(str(message.get("role")))
        out.texts.append(_join(parts))
        out.ends_with_tool_result = has_result
        if message.get("role") == "user" and not has_result:
            last_parts = parts
    out.last_user_text = _last_clean_text(last_parts)
    out.tools = [str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)]
    return out


def _openai_content(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [
        str(part.get("text", ""))
        for part in content or []
        if isinstance(part, dict) and "text" in part
    ]


def _openai_tool_names(tools: Any) -> list[str]:
    names = []
    for tool in tools or []:
        if isinstance(tool, dict):
            fn = tool.get("function")
            names.append(str(fn.get("name") if isinstance(fn, dict) else tool.get("name", "")))
    return names


def _summarize_responses(body: dict[str, Any]) -> Summary:
    out = Summary(model=body.get("model"), stream=bool(body.get("stream", False)))
    out.system = body.get("instructions")
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last_parts: list[str] = []
    for item in items or []:
        kind = item.get("type", "message")
        if kind == "message":
            role = str(item.get("role"))
            parts = _openai_content(item.get("content"))
            if role == "user":
                last_parts = parts
        else:
            role = str(kind)
            detail = item.get("output") if "output" in item else item.get("arguments")
            parts = [f"[{kind} {item.get('name', '')}] {detail if detail is not None else ''}"]
        out.roles.append(role)
        out.texts.append(_join(parts))
    out.ends_with_tool_result = bool(out.roles) and out.roles[-1].endswith("_output")
    out.last_user_text = _last_clean_text(last_parts)
    out.tools = _openai_tool_names(body.get("tools"))
    out.json_schema = _openai_schema(body.get("text"))
    return out


def _openai_schema(text_config: Any) -> dict[str, Any] | None:
    fmt = text_config.get("format") if isinstance(text_config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _summarize_chat(body: dict[str, Any]) -> Summary:
    out = Summary(model=body.get("model"), stream=bool(body.get("stream", False)))
    last_parts: list[str] = []
    for message in body.get("messages") or []:
        role = str(message.get("role"))
        parts = _openai_content(message.get("content"))
        parts += [
            f"[tool_call {c.get('function', {}).get('name')}]"
            for c in message.get("tool_calls") or []
        ]
        if role in {"system", "developer"} and out.system is None:
            out.system = _join(parts)
        if role == "user":
            last_parts = parts
        out.roles.append(role)
        out.texts.append(_join(parts))
    out.ends_with_tool_result = bool(out.roles) and out.roles[-1] == "tool"
    out.last_user_text = _last_clean_text(last_parts)
    out.tools = _openai_tool_names(body.get("tools"))
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        out.json_schema = dict(fmt.get("json_schema", {}).get("schema") or {})
    return out


def _gemini_parts(content: Any) -> tuple[list[str], bool]:
    parts: list[str] = []
    has_result = False
    for part in content.get("parts") or [] if isinstance(content, dict) else []:
        if "text" in part:
            parts.append(str(part["text"]))
        elif "functionCall" in part:
            parts.append(f"[functionCall {part['functionCall'].get('name')}]")
        elif "functionResponse" in part:
            has_result = True
            parts.append(f"[functionResponse {part['functionResponse'].get('name')}]")
    return parts, has_result


def _summarize_gemini(body: dict[str, Any], model: str, stream: bool) -> Summary:
    out = Summary(model=model, stream=stream)
    system = body.get("systemInstruction")
    if isinstance(system, str):
        out.system = system
    elif isinstance(system, dict):
        out.system = _join(_gemini_parts(system)[0])
    last_parts: list[str] = []
    for content in body.get("contents") or []:
        parts, has_result = _gemini_parts(content)
        out.roles.append(str(content.get("role", "user")))
        out.texts.append(_join(parts))
        out.ends_with_tool_result = has_result
        if content.get("role", "user") == "user" and not has_result:
            last_parts = parts
    out.last_user_text = _last_clean_text(last_parts)
    for tool in body.get("tools") or []:
        out.tools += [str(d.get("name")) for d in tool.get("functionDeclarations") or []]
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
        out.json_schema = schema if isinstance(schema, dict) else {}
    return out


def summarize(endpoint: str, body: Any, *, model: str | None = None) -> Summary:
    """Summarise a provider request body (lenient: unknown shapes give an empty summary)."""
    if not isinstance(body, dict):
        return Summary(model=model)
    if endpoint in {"messages", "count_tokens"}:
        return _summarize_anthropic(body)
    if endpoint == "responses":
        return _summarize_responses(body)
    if endpoint == "chat.completions":
        return _summarize_chat(body)
    if endpoint in {"generateContent", "streamGenerateContent", "countTokens"}:
        return _summarize_gemini(body, model or "", endpoint == "streamGenerateContent")
    return Summary(model=model)
