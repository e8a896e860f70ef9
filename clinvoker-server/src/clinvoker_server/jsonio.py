"""JSON in and out: one msgspec encoder, cached decoders, and error responses.

Decoding failures become :class:`~clinvoker.errors.UsageError` (malformed JSON, 400) or, for the
native API, :class:`~clinvoker.errors.ValidationError` (well-formed JSON of the wrong shape, 422);
the compatible APIs answer 400 for both, as the real APIs do. The offending field is kept as
``param`` for OpenAI error bodies.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from clinvoker.errors import ClinvokerError, UsageError, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.errors import Family, error_body, error_headers, error_status, invalid_field

__all__ = ["ENCODER", "decode", "encode", "error_response", "json_response", "read_json"]

T = TypeVar("T")

ENCODER = msgspec.json.Encoder()
encode = ENCODER.encode

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    dec = _decoders.get(kind)
    if dec is None:
        dec = _decoders[kind] = msgspec.json.Decoder(kind)
    return dec


def prepare_decoders(*kinds: type[Any]) -> None:
    """Build decoders at import time so no request pays for it."""
    for kind in kinds:
        _decoder(kind)


def decode(data: bytes, kind: type[T], family: Family) -> T:
    """Decode ``data`` as ``kind`` or raise the family's 400/422 error."""
    if not data.strip():
        raise UsageError("the request body is empty; send a JSON object")
    try:
        return _decoder(kind).decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        m = _AT.search(text)
        param = m["path"] if m and m["path"] else None
        message = f"invalid request body: {text}"
        cls = ValidationError if family is Family.NATIVE else UsageError
        raise invalid_field(message, param, cls=cls) from None
    except msgspec.DecodeError as exc:
        raise UsageError(
            f"the request body is not valid JSON ({exc}); send a JSON object"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            "the request body is not valid UTF-8; send JSON encoded as UTF-8"
        ) from None
    except RecursionError:
        raise UsageError(
            "the request body is nested too deeply; send a flatter JSON object"
        ) from None


async def read_json(request: Request, kind: type[T], family: Family) -> T:
    """Read and decode the request body."""
    return decode(await request.body(), kind, family)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response encoded with msgspec."""
    return Response(encode(payload), status, headers, media_type="application/json")


def error_response(exc: ClinvokerError, family: Family, request_id: str | None) -> Response:
    """``exc`` in the family's error shape, status and headers."""
    return json_response(
        error_body(exc, family, request_id), error_status(exc, family), error_headers(exc)
    )
