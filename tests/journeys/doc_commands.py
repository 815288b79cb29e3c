"""The shell commands the user docs show, extracted the way a reader sees them.

Which lines count as commands:

- every line of a fenced block whose language is ``bash``, ``sh``, ``shell`` or ``console``
  (a leading ``$ `` prompt is dropped; ``\\``-continued lines are joined; comments dropped);
- in any other fence except ``text`` (generated ``--help`` output in docs/commands.md),
  ``python``, ``toml``, ``json`` and ``yaml``: lines that start with ``omc `` or ``$ omc``;
- in a ``yaml`` fence (a CI workflow): the ``run:`` steps.

A block that cannot run here (it installs packages, needs a GPU or a real Modal account) is
marked in the doc by an HTML comment on the line before its fence, which readers do not see
rendered but reviewers do::

    <!-- not-run: installs omc into a fresh virtualenv (what .ci/run does) -->

Every other command must be run by a journey (``Journey.doc("exact text")``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"bash", "sh", "shell", "console"}
SKIP_LANGS = {"text", "python", "toml", "json"}
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>[^>]*?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class DocCommand:
    file: str  # relative to the repository
    line: int  # 1-based line of the command's first line
    text: str  # normalized: no prompt, no comment, single spaces
    kind: str  # "shell" or "ci" (a yaml run: step)
    not_run: str | None  # the reason, when the block is marked not-run


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def normalize(line: str) -> str:
    line = line.strip()
    if line.startswith("$ "):
        line = line[2:]
    return " ".join(_strip_comment(line).split())


def _strip_comment(line: str) -> str:
    """Drop a shell comment: an unquoted ``#`` at the start of a word."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def extract(path: Path) -> list[DocCommand]:
    rel = path.relative_to(REPO).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[DocCommand] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang = m.group("lang").lower()
        prev = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marked = NOT_RUN.search(prev)
        reason = marked.group("reason") if marked else None
        start, i = i, i + 1
        block: list[tuple[int, str]] = []
        while i < len(lines) and not lines[i].strip().startswith(m.group("fence")):
            block.append((i + 1, lines[i]))
            i += 1
        i += 1
        if lang in SKIP_LANGS:
            continue
        if lang == "yaml":
            for n, raw in block:
                step = re.match(r"^\s*-?\s*run:\s*(.+)$", raw)
                if step:
                    out.append(DocCommand(rel, n, normalize(step.group(1)), "ci", reason))
            continue
        pending, first = "", 0
        for n, raw in block:
            stripped = raw.strip()
            if lang not in SHELL_LANGS and not (stripped.startswith("omc ") or stripped.startswith("$ omc")):
                continue
            if not pending:
                first = n
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            text = normalize(pending + stripped)
            pending = ""
            if text:
                out.append(DocCommand(rel, first, text, "shell", reason))
        del start
    return out


def all_commands() -> list[DocCommand]:
    return [c for f in doc_files() for c in extract(f)]


def documented() -> set[str]:
    return {c.text for c in all_commands()}


if __name__ == "__main__":
    for c in all_commands():
        print(f"{c.file}:{c.line} [{c.kind}{' not-run' if c.not_run else ''}] {c.text}")
