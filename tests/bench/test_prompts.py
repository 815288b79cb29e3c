"""Built-in prompts and the JSONL format, with errors that name the file, line and fix."""

from __future__ import annotations

import json

import pytest

from ollama_modal.bench.prompts import BUILTIN, Prompt, builtin_prompts, load_prompts
from ollama_modal.errors import UsageError


def test_builtin_set():
    prompts = builtin_prompts()
    assert 18 <= len(prompts) <= 25 and len(set(BUILTIN)) == len(BUILTIN)
    assert all(p.messages[0]["role"] == "user" and p.messages[0]["content"] for p in prompts)
    assert any("merge sort" in p.messages[0]["content"] for p in prompts)


def test_jsonl_forms(tmp_path):
    f = tmp_path / "p.jsonl"
    msgs = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Sort a list"}]
    f.write_text(
        json.dumps({"prompt": "Write a merge sort"}) + "\n\n"
        + json.dumps({"messages": msgs, "max_tokens": 64}) + "\n",
        encoding="utf-8",
    )
    a, b = load_prompts(f)
    assert a == Prompt.text("Write a merge sort")
    assert b.messages == tuple(msgs) and b.max_tokens == 64


@pytest.mark.parametrize("line,problem", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"prompt": "x", "temperature": 0}', "unknown key(s) temperature"),
    ('{"prompt": "x", "messages": []}', 'exactly one of "prompt" or "messages"'),
    ('{"max_tokens": 5}', 'exactly one of "prompt" or "messages"'),
    ('{"prompt": "  "}', '"prompt" must be a non-empty string'),
    ('{"prompt": 3}', '"prompt" must be a non-empty string'),
    ('{"messages": []}', '"messages" must be a non-empty list'),
    ('{"messages": [{"content": "x"}]}', 'messages[0] needs a "role"'),
    ('{"prompt": "x", "max_tokens": 0}', '"max_tokens" must be a positive integer'),
    ('{"prompt": "x", "max_tokens": true}', '"max_tokens" must be a positive integer'),
])
def test_bad_lines_name_file_line_and_fix(tmp_path, line, problem):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"prompt": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as e:
        load_prompts(f)
    assert str(e.value).startswith(f"{f}:2: ") and problem in str(e.value)
    assert e.value.hint and e.value.exit_code == 2


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_prompts(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(UsageError, match="has no prompts"):
        load_prompts(empty)


def test_not_utf8(tmp_path):
    f = tmp_path / "latin.jsonl"
    f.write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(UsageError, match="UTF-8|cannot read"):
        load_prompts(f)
