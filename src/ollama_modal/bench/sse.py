"""Server-sent events, parsed incrementally, and the meaning of one OpenAI stream chunk.

Network reads split the stream anywhere: inside a line, between ``\\r`` and ``\\n``, inside
a UTF-8 sequence. The parser keeps the unfinished tail and only decodes whole lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


class SseParser:
    """Feed bytes as they arrive; get back the ``data`` payload of every completed event."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._skip_lf = False  # the last read ended in "\r": a leading "\n" belongs to it

    def feed(self, chunk: bytes) -> list[str]:
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        buf = self._buf + chunk
        events: list[str] = []
        start = 0
        n = len(buf)
        while start < n:
            # Find the next line end: \n, \r\n or a lone \r.
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, lf if lf >= 0 else n)
            if cr >= 0:
                end, nxt = cr, cr + 1
                if nxt < n and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == n:
                    self._skip_lf = True
            elif lf >= 0:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buf[start:end], events)
            start = nxt
        self._buf = buf[start:]
        return events

    def _line(self, line: bytes, events: list[str]) -> None:
        if not line:
            if self._data:  # a blank line dispatches the event
                events.append("\n".join(self._data))
                self._data = []
            return
        if line[:1] == b":":  # comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if name != b"data":
            return  # event:, id:, retry: carry nothing we need
        if value[:1] == b" ":
            value = value[1:]
        self._data.append(value.decode("utf-8", errors="replace"))

    def close(self) -> list[str]:
        """End of stream: an event without its final blank line still counts."""
        events: list[str] = []
        if self._buf:
            self._line(self._buf.rstrip(b"\r"), events)
            self._buf = b""
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events


@dataclass
class Chunk:
    """What one ``data:`` payload says."""

    done: bool = False  # ``[DONE]``
    token: bool = False  # non-empty content or reasoning content: counts as one token
    finished: bool = False  # a choice carried finish_reason
    usage_tokens: int | None = None
    error: str | None = None  # an in-band error object
    malformed: bool = False


_DONE = Chunk(done=True)


def interpret(data: str) -> Chunk:
    if data.strip() == "[DONE]":
        return _DONE
    try:
        obj = json.loads(data)
    except ValueError:
        return Chunk(malformed=True)
    if not isinstance(obj, dict):
        return Chunk(malformed=True)
    c = Chunk()
    err = obj.get("error")
    if err:
        c.error = str(err.get("message", err)) if isinstance(err, dict) else str(err)
        return c
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        # Reasoning models stream thoughts first; they are generated tokens too.
        if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
            c.token = True
        if choice.get("finish_reason"):
            c.finished = True
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        c.usage_tokens = usage["completion_tokens"]
    return c
