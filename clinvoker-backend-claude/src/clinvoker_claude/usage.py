"""Per-turn token usage and cost from Claude Code's ``result`` event.

``result.usage`` is this invocation's Anthropic usage (``input_tokens`` excludes cache reads and
writes). ``modelUsage`` and ``total_cost_usd`` are this invocation's in 2.1.197 but the whole
session's on resume in 2.1.330, which adds ``model_usage_since_last_result`` with this
invocation's figures. When a stream broke off and the CLI fetched the reply again without
streaming, ``result.usage`` is all zeros and only ``modelUsage`` has the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from clinvoker.result import Usage

__all__ = ["TurnFigures", "turn_figures"]


class TurnFigures:
    """This turn's usage and cost, plus the CLI's cumulative cost to carry to the next turn."""

    __slots__ = ("cost_usd", "cumulative_cost_usd", "usage")

    def __init__(
        self, usage: Usage | None, cost_usd: float | None, cumulative_cost_usd: float | None
    ) -> None:
        self.usage = usage
        self.cost_usd = cost_usd
        self.cumulative_cost_usd = cumulative_cost_usd


def turn_figures(result: Mapping[str, Any], resume_state: Mapping[str, Any]) -> TurnFigures:
    """Usage and cost of this invocation only (never the session's running total)."""
    reported_cost = _number(result.get("total_cost_usd"))
    since = result.get("model_usage_since_last_result")
    api_usage = _api_usage(result.get("usage"))
    model_usage = _model_usage(result.get("modelUsage"))
    if isinstance(since, dict) and since:
        usage = api_usage if _nonzero(api_usage) else (_model_usage(since) or api_usage)
        return TurnFigures(usage, _model_cost(since), reported_cost)
    usage = api_usage if _nonzero(api_usage) else (model_usage or api_usage)
    cost = reported_cost
    previous = _number(resume_state.get("cumulative_cost_usd"))
    if (
        cost is not None
        and previous is not None
        and _cumulative(api_usage, model_usage)
        and cost >= previous
    ):
        cost = cost - previous
    return TurnFigures(usage, cost, reported_cost)


def _cumulative(api_usage: Usage | None, model_usage: Usage | None) -> bool:
    """``modelUsage`` counts more than this invocation's usage: it is the session's total."""
    if api_usage is None or model_usage is None or not _nonzero(api_usage):
        return False
    return model_usage.total_tokens > api_usage.total_tokens


def _api_usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    fresh = _int(raw.get("input_tokens"))
    cache_read = _int(raw.get("cache_read_input_tokens"))
    cache_write = _int(raw.get("cache_creation_input_tokens"))
    details = raw.get("output_tokens_details")
    thinking = _int(details.get("thinking_tokens")) if isinstance(details, dict) else 0
    return Usage(
        input_tokens=fresh + cache_read + cache_write,
        output_tokens=_int(raw.get("output_tokens")),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking,
    )


def _model_usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict) or not raw:
        return None
    total = Usage()
    for entry in raw.values():
        if not isinstance(entry, dict):
            continue
        cache_read = _int(entry.get("cacheReadInputTokens"))
        cache_write = _int(entry.get("cacheCreationInputTokens"))
        total = total + Usage(
            input_tokens=_int(entry.get("inputTokens")) + cache_read + cache_write,
            output_tokens=_int(entry.get("outputTokens")),
            cached_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=_int(entry.get("thinkingTokens")),
        )
    return total


def _model_cost(raw: Mapping[str, Any]) -> float | None:
    costs = [_number(e.get("costUSD")) for e in raw.values() if isinstance(e, dict)]
    found = [c for c in costs if c is not None]
    return sum(found) if found else None


def _nonzero(usage: Usage | None) -> bool:
    return usage is not None and (usage.total_tokens > 0 or usage.cached_tokens > 0)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None
