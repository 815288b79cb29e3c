"""Prompts to send: a built-in set of realistic code requests, or the user's own JSONL file.

JSONL format, one request per line: ``{"prompt": "..."}`` or ``{"messages": [...]}``
(OpenAI chat messages), optionally with ``"max_tokens": N`` for that request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..safeio import loads_json, read_text

BUILTIN: tuple[str, ...] = (
    "Write a Python function that sorts an array of integers using merge sort.",
    "Write a Python function that checks whether a string is a valid IPv4 address, with tests.",
    "Explain the difference between a process and a thread, with a short Python example of each.",
    "Write a SQL query that returns the top 5 customers by total order value in the last 30 days.",
    "Write a TypeScript function that debounces another function, with type annotations.",
    "Implement an LRU cache class in Python with get and put in O(1) time.",
    "Write a Bash script that finds the 10 largest files under a directory and prints their sizes.",
    "Write a Go HTTP handler that returns the current time as JSON.",
    "Refactor this loop into a list comprehension and explain why: result = []\n"
    "for x in range(20):\n    if x % 3 == 0:\n        result.append(x * x)",
    "Write a Rust function that reverses the words in a sentence without allocating per word.",
    "Write a Python async function that fetches 10 URLs concurrently with httpx and a timeout.",
    "Write a regular expression that matches ISO 8601 dates and explain each part.",
    "Write a Python class for a binary search tree with insert, search and in-order traversal.",
    "Write a Dockerfile for a small FastAPI app, using a slim base image and a non-root user.",
    "Explain Big-O of quicksort in the average and worst case, and how to avoid the worst case.",
    "Write a JavaScript function that deep-clones an object, handling arrays, dates and cycles.",
    "Write pytest tests for a function add(a, b) covering integers, floats and bad input types.",
    "Write a Python generator that yields the Fibonacci numbers below a given limit.",
    "Write a C function that counts the set bits in a 32-bit unsigned integer.",
    "Write a Python script that reads a CSV file and prints the mean of each numeric column.",
)


@dataclass(frozen=True)
class Prompt:
    messages: tuple[dict[str, Any], ...]
    max_tokens: int | None = None  # overrides the run's --max-tokens for this request

    @classmethod
    def text(cls, prompt: str, max_tokens: int | None = None) -> "Prompt":
        return cls(({"role": "user", "content": prompt},), max_tokens)


def builtin_prompts() -> list[Prompt]:
    return [Prompt.text(p) for p in BUILTIN]


def _bad(path: Path, line: int, problem: str, fix: str) -> UsageError:
    return UsageError(f"{path}:{line}: {problem}", hint=fix)


def _parse_line(path: Path, n: int, raw: str) -> Prompt:
    obj = loads_json(raw, where=f"{path}:{n}", hint='each line must be one JSON object, e.g. {"prompt": "Write a merge sort"}')
    if not isinstance(obj, dict):
        raise _bad(path, n, f"expected a JSON object, got {type(obj).__name__}",
                   'write {"prompt": "..."} or {"messages": [...]} on each line')
    unknown = set(obj) - {"prompt", "messages", "max_tokens"}
    if unknown:
        raise _bad(path, n, f"unknown key(s) {', '.join(sorted(unknown))}",
                   'allowed keys are "prompt", "messages" and "max_tokens"')
    max_tokens = obj.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise _bad(path, n, f'"max_tokens" must be a positive integer, got {max_tokens!r}',
                   'write e.g. "max_tokens": 256 or leave it out')
    if ("prompt" in obj) == ("messages" in obj):
        raise _bad(path, n, 'needs exactly one of "prompt" or "messages"',
                   'write {"prompt": "..."} or {"messages": [{"role": "user", "content": "..."}]}')
    if "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            raise _bad(path, n, '"prompt" must be a non-empty string', 'write {"prompt": "Write a merge sort"}')
        return Prompt.text(obj["prompt"], max_tokens)
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise _bad(path, n, '"messages" must be a non-empty list',
                   'write "messages": [{"role": "user", "content": "..."}]')
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
            raise _bad(path, n, f'messages[{i}] needs a "role" string and a "content"',
                       'each message looks like {"role": "user", "content": "..."}')
    return Prompt(tuple(msgs), max_tokens)


def load_prompts(path: str | Path) -> list[Prompt]:
    """Read a JSONL prompts file. Errors name the file, the line and the fix (UsageError)."""
    p = Path(path)
    text = read_text(p, what="--prompts file", hint="the --prompts file must be UTF-8 JSONL, one request per line")
    # Only "\n" ends a JSONL record: str.splitlines() would also split inside a JSON string
    # holding U+2028 or a form feed, which JSON allows unescaped.
    prompts = [_parse_line(p, n, raw) for n, raw in enumerate(text.split("\n"), 1) if raw.strip()]
    if not prompts:
        raise UsageError(f"prompts file {p} has no prompts",
                         hint='add one JSON object per line, e.g. {"prompt": "Write a merge sort"}')
    return prompts
