"""Line framing of stdout: however the bytes are chunked, the same lines come out."""

from __future__ import annotations

from clinvoker.line_framer import LineFramer
from hypothesis import given
from hypothesis import strategies as st


def frame(chunks: list[bytes], limit: int = 1 << 20) -> tuple[list[bytes], LineFramer]:
    framer = LineFramer(limit)
    out: list[bytes] = []
    for chunk in chunks:
        framer.feed(chunk)
        while (line := framer.pop()) is not None:
            out.append(line)
    framer.finish()
    while (line := framer.pop()) is not None:
        out.append(line)
    return out, framer


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=20))
def test_chunking_never_changes_the_lines(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    lines, framer = frame(chunks)
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()  # a trailing newline ends the last line, it does not start a new one
    assert lines == expected
    assert not framer.overflowed
    assert framer.queued == 0


def test_a_line_over_the_cap_overflows_but_keeps_earlier_lines() -> None:
    lines, framer = frame([b"ok\n", b"x" * 40, b"y" * 40, b"\nlater\n"], limit=64)
    assert lines == [b"ok"]
    assert framer.overflowed
    assert framer.closed


def test_a_line_exactly_at_the_cap_is_fine() -> None:
    lines, framer = frame([b"z" * 64 + b"\n"], limit=64)
    assert lines == [b"z" * 64]
    assert not framer.overflowed
