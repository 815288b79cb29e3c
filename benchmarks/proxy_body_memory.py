"""Peak memory of the container proxy while a large request body streams through it.

The proxy (uvicorn, one process, bearer auth) runs in its own process in front of a loopback
upstream that reads and discards the body; the caller sends SIZE MiB as a chunked body in
1 MiB chunks. The proxy's peak RSS (VmHWM) is compared with its RSS after start-up (the
baseline, same run). With the body streamed, the growth stays near the 1 MiB kept for a retry
plus a few chunks, whatever the body size; a proxy that held the body whole would grow by SIZE.

    python benchmarks/proxy_body_memory.py [--mib 512] [--json]

Exits 1 if the peak grew by more than 64 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY = "bench-key"
GOAL_GROWTH_MIB = 64
SERVER = """
import sys, uvicorn
from ollama_modal.service.proxy import create_app
from ollama_modal.service.settings import ServiceSettings
uvicorn.run(create_app(ServiceSettings.from_env()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def discarding_upstream() -> tuple[int, dict]:
    """An HTTP/1.1 server that reads a request (any framing), discards its body, answers 200."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    seen = {"bytes": 0}

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as r:
            while True:
                line = r.readline()
                if not line:
                    return
                headers = {}
                while (h := r.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    while (size := int(r.readline().split(b";")[0], 16)) > 0:
                        while size:
                            size -= len(b := r.read1(min(size, 1 << 20)))
                            seen["bytes"] += len(b)
                        r.readline()
                    r.readline()
                else:
                    n = int(headers.get("content-length", "0"))
                    while n:
                        n -= len(b := r.read1(min(n, 1 << 20)))
                        seen["bytes"] += len(b)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    def accept() -> None:
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock.getsockname()[1], seen


def rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    up_port, seen = discarding_upstream()
    port = free_port()
    env = {**os.environ, "OMC_MODEL": "m:1b", "OMC_API_KEYS": KEY, "OLLAMA_HOST": f"127.0.0.1:{up_port}",
           "OMC_MAX_BODY_BYTES": str(1 << 30)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, cwd=REPO)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        baseline = rss_mib(proc.pid, "VmRSS")
        chunk = b"x" * (1 << 20)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
            s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + KEY.encode()
                      + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(args.mib):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
            answer = s.recv(100)
        seconds = time.monotonic() - started
        peak = rss_mib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(10)
    result = {"body_mib": args.mib, "rss_after_start_mib": round(baseline, 1), "peak_rss_mib": round(peak, 1),
              "growth_mib": round(peak - baseline, 1), "upstream_received_mib": round(seen["bytes"] / (1 << 20), 1),
              "seconds": round(seconds, 2), "status": answer.split(b" ")[1].decode() if answer else None}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.mib} MiB chunked body through the proxy in {seconds:.1f} s (answer {result['status']}); "
              f"upstream received {result['upstream_received_mib']} MiB")
        print(f"proxy RSS after start {baseline:.1f} MiB, peak {peak:.1f} MiB: grew {peak - baseline:.1f} MiB "
              f"(goal <= {GOAL_GROWTH_MIB} MiB)")
    return 0 if peak - baseline <= GOAL_GROWTH_MIB and result["status"] == "200" else 1


if __name__ == "__main__":
    sys.exit(main())
