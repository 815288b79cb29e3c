"""SSE parsing: events survive any split of the byte stream; chunk meanings."""

from __future__ import annotations

import json

import pytest

from ollama_modal.bench.sse import SseParser, interpret

STREAM = (
    b": comment at start\n"
    b"data: {\"a\": 1}\n\n"
    b"event: message\r\nid: 7\r\ndata: {\"b\": \"\xc3\xa9t\xc3\xa9\"}\r\n\r\n"
    b"data: line1\rdata: line2\r\r"
    b"retry: 100\n"
    b"data:nospace\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = ['{"a": 1}', '{"b": "été"}', "line1\nline2", "nospace", "[DONE]"]


def feed_all(pieces: list[bytes]) -> list[str]:
    p = SseParser()
    out: list[str] = []
    for piece in pieces:
        out += p.feed(piece)
    return out + p.close()


def test_whole_stream_in_one_read():
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_anywhere_in_two(cut):
    # Every split point: inside a line, between \r and \n, inside a UTF-8 sequence.
    assert feed_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_one_byte_at_a_time():
    assert feed_all([STREAM[i:i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_crlf_split_does_not_make_an_empty_line():
    # "\r" ends one read and "\n" starts the next: one line end, not an event boundary.
    assert feed_all([b"data: x\r", b"\ndata: y\r\n", b"\r\n"]) == ["x\ny"]


def test_unterminated_last_event_counts_at_close():
    p = SseParser()
    assert p.feed(b"data: [DONE]") == []
    assert p.close() == ["[DONE]"]


def test_blank_lines_without_data_dispatch_nothing():
    assert feed_all([b"\n\n: ping\n\n\r\n"]) == []


def chunk(delta: dict, finish=None, usage=None) -> str:
    obj = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        obj = {"choices": [], "usage": usage}
    return json.dumps(obj)


def test_content_counts_as_a_token_and_empty_content_does_not():
    assert interpret(chunk({"role": "assistant", "content": "hi"})).token
    assert not interpret(chunk({"role": "assistant", "content": ""})).token
    assert not interpret(chunk({"role": "assistant"})).token


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_counts_as_a_token(field):
    assert interpret(chunk({field: "thinking"})).token


def test_finish_reason_and_usage():
    c = interpret(chunk({"content": ""}, finish="stop"))
    assert c.finished and not c.token
    u = interpret(chunk({}, usage={"prompt_tokens": 3, "completion_tokens": 41}))
    assert u.usage_tokens == 41 and not u.token


def test_done_marker():
    assert interpret("[DONE]").done
    assert interpret(" [DONE] ").done


@pytest.mark.parametrize("payload,message", [
    ('{"error": {"message": "model runner has unexpectedly stopped"}}', "model runner has unexpectedly stopped"),
    ('{"error": "out of memory"}', "out of memory"),
])
def test_error_objects(payload, message):
    c = interpret(payload)
    assert c.error == message and not c.token


@pytest.mark.parametrize("payload", ["{not json", "[1, 2]", '"text"'])
def test_malformed_payloads(payload):
    assert interpret(payload).malformed
