"""Loading recorded traces: `omc cost --trace` / `omc recommend --trace` on 3 M-row files.

Writes traces of the shapes users and `omc traffic` produce (CSV with UNIX seconds, CSV with
ISO-8601 times, `omc traffic`'s CSV with +00:00 offsets and extra columns, JSONL with ISO
times, JSONL with UNIX seconds), then loads each in a fresh process and prints the wall time,
the CPU time and the peak RSS, beside a baseline measured in the same run on the same files:

* `loop`: the plain standard-library reader (csv.reader / json.loads a line at a time,
  float() / datetime.fromisoformat per value, into a list, then a numpy array);
* `--against REV` (optional): omc's reader as it was at git revision REV.

The reader runs as the commands run it (`reuse_big_allocations()` first).

Run: python benchmarks/trace_load.py [--rows 3000000] [--against REV] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

LOOP = r'''
import csv, json, sys
from datetime import datetime, timezone
import numpy as np
path = sys.argv[1]
def stamp(v):
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except ValueError:
        dt = datetime.fromisoformat(v)
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
out = []
with open(path, encoding="utf-8", newline="") as f:
    if path.endswith(".jsonl"):
        for line in f:
            if line.strip():
                out.append(stamp(json.loads(line)["timestamp"]))
    else:
        rows = csv.reader(f)
        i = next(rows).index("timestamp")
        for row in rows:
            if row:
                out.append(stamp(row[i]))
times = np.array(out)
'''

OMC = r'''
import sys
from ollama_modal.cost.alloc import reuse_big_allocations
reuse_big_allocations()
from ollama_modal.cost.tracefile import read_trace
times, tokens = read_trace(sys.argv[1])[:2]
'''

BEFORE = r'''
import importlib.util, sys
import ollama_modal.cost
from ollama_modal.cost.alloc import reuse_big_allocations
reuse_big_allocations()
spec = importlib.util.spec_from_file_location("ollama_modal.cost._before", sys.argv[2])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
times = mod.read_trace(sys.argv[1])[0]
'''

TIMED = r'''
import resource, time
t0, c0 = time.perf_counter(), time.process_time()
{body}
print(len(times), time.perf_counter() - t0, time.process_time() - c0)
'''


def write_traces(d: Path, rows: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    t = 1_793_577_600 + np.cumsum(rng.exponential(1.0, rows))
    iso = np.datetime_as_string((t * 1e6).astype("datetime64[us]"), unit="ms")
    tok = rng.integers(20, 600, rows)
    shapes = {
        "CSV, UNIX seconds": ("unix.csv", "timestamp,output_tokens\n", lambda i: f"{t[i]:.3f},{tok[i]}\n"),
        "CSV, ISO-8601 (Z)": ("iso.csv", "timestamp,output_tokens\n", lambda i: f"{iso[i]}Z,{tok[i]}\n"),
        "CSV of omc traffic (+00:00, 4 columns)": (
            "traffic.csv", "timestamp,route,status,duration_s\n", lambda i: f"{iso[i]}+00:00,/api/chat,200,{tok[i] / 100:.3f}\n"),
        "JSONL, ISO-8601": ("iso.jsonl", "", lambda i: f'{{"timestamp": "{iso[i]}Z", "output_tokens": {tok[i]}}}\n'),
        "JSONL, UNIX seconds": ("unix.jsonl", "", lambda i: f'{{"timestamp": {t[i]:.3f}, "output_tokens": {tok[i]}}}\n'),
    }
    files = {}
    for name, (fname, head, row) in shapes.items():
        path = d / fname
        if not path.exists():
            with path.open("w") as f:
                f.write(head)
                for a in range(0, rows, 100_000):
                    f.write("".join(row(i) for i in range(a, min(rows, a + 100_000))))
        files[name] = path
    return files


def measure(body: str, *args: str) -> tuple[int, float, float, float]:
    """(rows, wall s, CPU s, peak RSS MB) of `body` in a fresh interpreter."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        r = subprocess.run([shutil.which("time") or "/usr/bin/time", "-f", "%M", "-o", rss.name, sys.executable, "-c",
                            TIMED.format(body=body), *args], capture_output=True, text=True, cwd=REPO)
        if r.returncode:
            raise SystemExit(r.stderr[-2000:])
        n, wall, cpu = r.stdout.split()
        return int(n), float(wall), float(cpu), int(Path(rss.name).read_text().split()[-1]) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--against", help="also time omc's reader at this git revision")
    ap.add_argument("--keep", type=Path, help="write the traces here and keep them (reused when present)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; numpy {np.__version__}; {args.rows:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        before = None
        if args.against:
            before = Path(tmp) / "tracefile_before.py"
            before.write_bytes(subprocess.run(["git", "show", f"{args.against}:src/ollama_modal/cost/tracefile.py"], cwd=REPO,
                                              check=True, capture_output=True).stdout)
        files = write_traces(d, args.rows)
        print("| trace | file | omc: wall / CPU / peak RSS | plain loop: wall / CPU / peak RSS | ratio (CPU) |"
              + (f" {args.against}: wall / CPU / peak RSS | ratio (CPU) |" if before else ""))
        print("|---|---|---|---|---|" + ("---|---|" if before else ""))
        for name, path in files.items():
            n, wall, cpu, rss = measure(OMC, str(path))
            assert n == args.rows, (name, n)
            _, lwall, lcpu, lrss = measure(LOOP, str(path))
            line = (f"| {name} | {path.stat().st_size / 1e6:.0f} MB | {wall:.2f} s / {cpu:.2f} s / {rss:.0f} MB | "
                    f"{lwall:.2f} s / {lcpu:.2f} s / {lrss:.0f} MB | {cpu / lcpu:.3f} |")
            if before:
                _, bwall, bcpu, brss = measure(BEFORE, str(path), str(before))
                line += f" {bwall:.2f} s / {bcpu:.2f} s / {brss:.0f} MB | {cpu / bcpu:.3f} |"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
