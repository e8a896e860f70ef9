"""What the OpenAI and Anthropic endpoints share: starting a stateless run, usage, ids.

Compatible endpoints are stateless: every run is ephemeral (no clinvoker session, the CLI's own
conversation is cleaned up) and the model id picks the backend (:mod:`clinvoker_server.models`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import msgspec
from clinvoker.errors import BackendCrashed, ClinvokerError
from clinvoker.events import Done, Error, Event
from clinvoker.result import Result, Usage
from starlette.requests import Request

from clinvoker_server.policy import access_modes
from clinvoker_server.runs import ActiveRun, RunSpec, result_error
from clinvoker_server.state import principal_of, request_id_of, server_of, until_disconnect

__all__ = [
    "TokenCounts",
    "collect",
    "estimate_tokens",
    "failure_of",
    "new_id",
    "start_run",
    "token_counts",
]


def new_id(prefix: str) -> str:
    """A fresh random id such as ``chatcmpl-<hex>``, ``resp_<hex>``, ``msg_<hex>``."""
    return prefix + secrets.token_hex(12)


def estimate_tokens(text: str) -> int:
    """A documented rough estimate: one token per 4 characters (at least 1 for non-empty text)."""
    return (len(text) + 3) // 4


class TokenCounts(msgspec.Struct, frozen=True):
    """Token counts of a finished run (estimated from text when the CLI reported none)."""

    input: int
    output: int
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        """Input plus output tokens."""
        return self.input + self.output


def token_counts(result: Result | None, prompt: str, text: str) -> TokenCounts:
    """Usage of ``result``, or an estimate from ``prompt`` and the answer ``text``."""
    usage: Usage | None = result.usage if result is not None else None
    if usage is None or (usage.input_tokens == 0 and usage.output_tokens == 0):
        return TokenCounts(estimate_tokens(prompt), estimate_tokens(text))
    return TokenCounts(
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


async def start_run(request: Request, model_id: str, prompt: str, system: str | None) -> ActiveRun:
    """Check the key's policy, route ``model_id`` and start an ephemeral run.

    A read-only key's run is read-only; its first ``workdir_roots`` entry is the working
    directory (the compatible APIs have no workdir field)."""
    server = server_of(request)
    principal = principal_of(request)
    route = server.router.resolve(model_id)
    principal.check_backend(route.backend)
    backend = server.host.backend(route.backend)
    principal.check_model(model_id, backend=backend, model=route.model)
    approval, sandbox = access_modes(principal, None, None)
    spec = RunSpec(
        prompt=prompt,
        backend=route.backend,
        model=route.model,
        workdir=server.workdirs.check(None, roots=principal.roots),
        ephemeral=True,
        approval_mode=approval,
        sandbox_mode=sandbox,
        system_prompt=system,
        system_prompt_mode="append" if system else None,
    )
    return await server.runs.start(spec, principal, request_id=request_id_of(request))


async def collect(request: Request, run: ActiveRun) -> Result:
    """Run to the end (cancelled if the client goes away); a failed run raises its error."""
    result = await until_disconnect(request, run.collect())
    error = result_error(result)
    if error is not None:
        raise error
    return result


def failure_of(result: Result | None, fatal: Error | None) -> ClinvokerError | None:
    """The error a stream ended with, if it did not succeed."""
    if result is None:
        message = fatal.message if fatal else "the backend ended without a result"
        return BackendCrashed(message)
    return result_error(result)


async def text_and_outcome(events: AsyncIterator[Event]) -> AsyncIterator[str | Done | Error]:
    """Reduce the event stream to what the compat adapters render: text, fatal errors, Done."""
    from clinvoker.events import TextDelta

    async for event in events:
        if isinstance(event, TextDelta):
            if event.text:
                yield event.text
        elif isinstance(event, Done) or (isinstance(event, Error) and event.fatal):
            yield event
