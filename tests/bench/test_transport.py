"""The timed network backend on its own, against a local asyncio server."""

from __future__ import annotations

import asyncio
import time

import pytest

from ollama_modal.bench.transport import Clock, _backend


async def serve(payload: bytes, close: bool = True):
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readexactly(5))
        writer.write(payload)
        await writer.drain()
        if close:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


async def test_large_reads_split_eof_and_stamps():
    payload = bytes(range(256)) * 800  # 200 KiB, more than one read
    server, port, got = await serve(payload)
    clock = Clock()
    stream = await _backend(clock).connect_tcp("127.0.0.1", port, timeout=5)
    before = time.perf_counter_ns()
    await stream.write(b"hello", timeout=5)
    assert clock.write_ns >= before
    data = b""
    while chunk := await stream.read(65536, timeout=5):
        assert len(chunk) <= 65536 and clock.arrival_ns >= clock.write_ns
        data += chunk
    assert data == payload and got == [b"hello"]
    assert stream.get_extra_info("is_readable") is True  # closed by the server
    assert stream.get_extra_info("server_addr")[1] == port
    await stream.aclose()
    server.close()


async def test_read_timeout_and_connect_errors():
    import httpcore

    server, port, _ = await serve(b"", close=False)
    stream = await _backend(Clock()).connect_tcp("127.0.0.1", port, timeout=5)
    assert stream.get_extra_info("is_readable") is False
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(10, timeout=0.05)
    await stream.aclose()
    server.close()
    await server.wait_closed()
    with pytest.raises(httpcore.ConnectError):
        await _backend(Clock()).connect_tcp("127.0.0.1", port, timeout=5)
