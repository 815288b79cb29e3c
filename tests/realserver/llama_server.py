"""llama.cpp's HTTP server (``xllamacpp.Server``) as a process of its own, for the real-server tests.

    python llama_server.py MODEL.gguf [--parallel 4] [--threads 1] [--ctx 8192]

Prints ``LISTEN <base url>`` once it serves, then serves until stdin closes or it is
terminated. The port is chosen by the kernel (port 0), so parallel runs never collide.
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("model")
    a.add_argument("--parallel", type=int, default=4)
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--ctx", type=int, default=8192)  # shared by the slots: 2048 each at 4
    o = a.parse_args()

    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = o.model
    p.hostnames = ["127.0.0.1"]
    p.port = 0
    p.n_parallel = o.parallel
    p.n_ctx = o.ctx
    p.cpuparams.n_threads = o.threads
    p.cpuparams_batch.n_threads = o.threads
    p.endpoint_slots = True  # GET /slots: which slots are generating (the cancellation test)
    p.endpoint_metrics = True
    server = xllamacpp.Server(p)  # serves from its own threads until the process ends
    print(f"LISTEN {server.listening_address}", flush=True)
    sys.stdin.read()  # the test holds the pipe; EOF (or a signal) ends the process


if __name__ == "__main__":
    main()
