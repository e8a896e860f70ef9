import json

from clinvoker.events import Done, TextDelta, decode_event, encode_event
from clinvoker.result import Result, Usage


def test_event_round_trips_with_type_tag() -> None:
    ev = TextDelta(seq=3, text="Hello")
    data = encode_event(ev)
    assert json.loads(data) == {"type": "text_delta", "seq": 3, "text": "Hello"}
    assert decode_event(data) == ev


def test_done_carries_the_result() -> None:
    res = Result(backend="claude", content="hi", usage=Usage(input_tokens=11, output_tokens=7))
    back = decode_event(encode_event(Done(seq=9, result=res)))
    assert isinstance(back, Done)
    assert back.result.usage is not None
    assert back.result.usage.total_tokens == 18
