"""Native ``/api/v1/parallel``, ``/api/v1/chain`` and ``/api/v1/compare`` over :mod:`clinvoker.orchestrate`."""

from __future__ import annotations

from clinvoker.errors import BackendUnavailable
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["chain", "compare", "parallel"]


async def parallel(request: Request) -> Response:
    raise BackendUnavailable("parallel runs are not available yet")


async def chain(request: Request) -> Response:
    raise BackendUnavailable("chains are not available yet")


async def compare(request: Request) -> Response:
    raise BackendUnavailable("compare is not available yet")
