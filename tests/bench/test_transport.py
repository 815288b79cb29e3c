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


async def test_a_close_the_loop_has_not_read_yet_makes_the_connection_readable():
    # The server answers and closes at once (llama.cpp's habit after a stream). The pool
    # asks "is_readable" before reusing the idle connection; the FIN may be in the kernel
    # while the event loop has not run its read callback: it must count as closed then too.
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(5)
        conn.sendall(b"reply")
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    stream = await _backend(Clock()).connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    await stream.write(b"hello", timeout=5)
    assert await stream.read(5, timeout=5) == b"reply"
    t.join(5)  # blocks the loop: the FIN cannot have reached the protocol
    assert not stream.proto.eof
    assert stream.get_extra_info("is_readable") is True
    await stream.aclose()
    listener.close()
