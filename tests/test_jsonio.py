"""Every JSON omc writes is strict JSON: a non-finite number is null ("no finite value")."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_modal import jsonio

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


def _strict_loads(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} written: not JSON")

    return json.loads(text, parse_constant=refuse)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(values)
def test_dumps_is_strict_and_keeps_every_finite_value(value) -> None:
    back = _strict_loads(jsonio.dumps(value))

    def same(a, b) -> bool:
        if isinstance(a, float) and not math.isfinite(a):
            return b is None
        if isinstance(a, (list, tuple)):
            return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b

    assert same(value, back)


def test_the_writers_use_it() -> None:
    """Container log lines and schedule events: a non-finite figure is null, not NaN."""
    from ollama_modal.service.phases import format_phase_line

    line = format_phase_line("model_loaded", float("nan"), float("inf"), "m")
    record = _strict_loads(line[line.index("{"):])
    assert None in record.values()


def test_append_line_atomic_adds_a_line_after_a_file_without_newline(tmp_path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text('{"a": 1}')
    jsonio.append_line_atomic(f, {"b": float("nan")})
    assert f.read_text() == '{"a": 1}\n{"b": null}\n'
