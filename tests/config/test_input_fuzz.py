"""Property: whatever bytes a profile or prompts file holds, omc answers with its own error
(exit 2 naming the file) or a result, never an unexpected exception. Deterministic."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_modal.errors import ConfigError, UsageError

EXAMPLES = int(os.environ.get("OMC_PROPERTY_EXAMPLES", "150")) // 2

TOML_PIECES = [
    'extends = "a10g-balanced"\n', "[warm]\n", "[model]\n", "[server]\n", "[[warm.schedule]]\n", "min_containers = ", "name = ",
    "keep_alive = ", "x = ", "1", "-1", "9" * 50, "9" * 5000, "nan", "inf", "1e999", '"', '"""', "'", "[", "]", "{", "}", "=",
    ",", "\n", "\r\n", "\x00", "\xe9", "\ufeff", "\\u0000", "#", "true", "1979-05-27T07:32:00Z", "0x1F", "[" * 40 + "]" * 40,
]
JSON_PIECES = [
    '{"prompt": ', '{"messages": ', '"x"', "[", "]", "{", "}", ",", ":", '"max_tokens": ', "1", "-1", "9" * 5000, "NaN",
    "Infinity", "1e999", "null", "true", "\n", "\u2028", "\x00", "\\", '\\"', "\\ud800", "[" * 100 + "]" * 100, '"role": "user"',
]


def _blob(pieces: list[str]):
    text = st.lists(st.sampled_from(pieces), max_size=12).map("".join)
    encoded = st.tuples(text, st.sampled_from(["utf-8", "latin-1", "utf-16"])).map(lambda t: t[0].encode(t[1], "replace"))
    return st.one_of(encoded, st.binary(max_size=64))


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_blob(TOML_PIECES))
def test_any_profile_file_is_a_profile_or_a_config_error(profiles_dir: Path, body: bytes) -> None:
    from ollama_modal.config import resolve

    (profiles_dir / "fz.toml").write_bytes(body)
    try:
        resolve("fz")
    except ConfigError:
        pass


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_blob(JSON_PIECES))
def test_any_prompts_file_is_prompts_or_a_usage_error(tmp_path: Path, body: bytes) -> None:
    from ollama_modal.bench.prompts import load_prompts

    p = tmp_path / "fz.jsonl"
    p.write_bytes(body)
    try:
        load_prompts(p)
    except UsageError as e:
        assert "fz.jsonl" in e.message
