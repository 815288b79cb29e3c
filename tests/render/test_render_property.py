"""Property: a profile is data. Put hostile text in any string field of a profile; either the
schema refuses it, or the rendered module parses, has exactly the expected top-level
statements, and each literal in it equals the profile's value.

The string fields are found by walking the schema, so a new field is covered without
changing this file. Deterministic (derandomized); OMC_PROPERTY_EXAMPLES sets the example
count (default 150).
"""

from __future__ import annotations

import ast
import os
import shlex
import typing
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ollama_modal import __version__
from ollama_modal.config import resolve
from ollama_modal.config.models import Profile
from ollama_modal.config.serialize import profile_dict
from ollama_modal.primitives import SERVER, choose
from ollama_modal.pyliteral import py_literal
from ollama_modal.render import (
    CLASS_NAME,
    PULL_FUNCTION,
    SCHEDULE_FUNCTION,
    WEB_METHOD,
    config_hash,
    module_docstring,
    ollama_env,
    ollama_install_command,
    pull_command,
    render,
)
from ollama_modal.tags import app_tags

EXAMPLES = int(os.environ.get("OMC_PROPERTY_EXAMPLES", "150"))

HOSTILE = [
    '"""', "'''", '"', "'", "\\", "\\n", "\\x00", "\n", "\r", "\r\n", "\t", "\x00", "\x7f", "\x0c", "\u2028", "\u2029",
    "\u0085", "\udc80", "{}", "{0}", "{x!r}", "%s", "${HOME}", "$(id)", "`id`", ";", "&&", "|", ">", "#", " ", "..", "/",
    "../../x", "# -*- coding: latin-1 -*-", "\\N{BULLET}", "é", "😀", "\ufeff", "import os", "__import__('os')",
]
# Pieces that valid values are made of, so that many examples get past validation.
BENIGN = ["a", "x1", "codellama", ":7b", "/", "0.33.3", "us-east", "-", ".", "_", "mon", "08:00", "UTC", "30m", "-1",
          "H100", "a10g", "main", "my-llm", "Europe/Berlin", "q8_0", "volume", "bearer"]

values = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE + BENIGN), min_size=1, max_size=5).map("".join),
    st.text(max_size=24),
)


def _string_fields(model: type[BaseModel], prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """(path, "str" | "list") for every field of the schema that holds text."""
    out: list[tuple[tuple, str]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        args = typing.get_args(ann) if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType")) else (ann,)
        for a in args:
            origin = typing.get_origin(a)
            if isinstance(a, type) and issubclass(a, BaseModel):
                out += _string_fields(a, prefix + (name,))
            elif origin is list:
                (item,) = typing.get_args(a)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    out += _string_fields(item, prefix + (name, 0))
                elif item is str:
                    out.append((prefix + (name,), "list"))
            elif a is str or origin is Literal:
                out.append((prefix + (name,), "str"))
    return out


FIELDS = sorted(set(_string_fields(Profile)), key=repr)


def test_every_text_field_is_covered() -> None:
    paths = {p for p, _ in FIELDS}
    for expected in [("name",), ("description",), ("model", "name"), ("ollama", "version"), ("server", "api_key_secret"),
                     ("server", "label"), ("model", "volume"), ("app", "region"), ("warm", "schedule", 0, "timezone"),
                     ("gpu", "fallback"), ("model", "keep_alive")]:
        assert expected in paths, expected


BASE = profile_dict(resolve("a10g-balanced").profile)


def _with(data: dict, path: tuple, value: Any) -> None:
    here: Any = data
    for i, part in enumerate(path[:-1]):
        if part == 0:
            if not here:
                here.append({"start": "08:00", "end": "19:00"})
            here = here[0]
        elif isinstance(path[i + 1], int):
            here = here.setdefault(part, [])
        else:
            here = here.setdefault(part, {})
    here[path[-1]] = value


# Unusual values each field accepts, so that many examples reach the renderer (free-text
# fields such as name and description accept most hostile text as it is).
ACCEPTED = {
    ("model", "name"): ["a/b/c:1.2-q_0", "registry.example.com/ns/m:tag", "A.B_C-D"],
    ("ollama", "version"): ["0.1.0", "10.20.30-rc1"],
    ("model", "volume"): ["a.b-c_d", "..x", "V" * 64],
    ("server", "api_key_secret"): ["a.b-c_d", "x..y", "ap-short"],
    ("server", "label"): ["a", "a-1", "x" * 63],
    ("app", "name"): ["A.b_c-d", "x" * 63],
    ("app", "environment"): ["main", "Dev.1_x-y"],
    ("app", "region"): ["us-east", "EU-West-1"],
    ("warm", "policy"): ["my.policy_1-x"],
    ("model", "keep_alive"): ["-1", "300", "1h30m", "1.5h", "-5m"],
    ("model", "store"): ["image", "volume"],
    ("ollama", "kv_cache_type"): ["f16", "q4_0"],
    ("server", "auth"): ["proxy", "none", "bearer"],
    ("gpu", "fallback"): ["a100-80gb", "H100"],
    ("warm", "schedule", 0, "days"): ["Monday", "weekends", "daily"],
    ("warm", "schedule", 0, "timezone"): ["Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"],
    ("warm", "schedule", 0, "start"): ["00:00", "23:59"],
    ("warm", "schedule", 0, "end"): ["24:00", "07:30"],
    ("gpu", "type"): [" h100 ", "a10g", "A100-80GB:2"],
    ("server", "primitive"): ["server", "function", "auto"],
    ("server", "routing_region"): ["eu-west", "ap-south"],
    ("server", "cors_origins"): ["https://app.example.com", "http://localhost:3000"],
}


@st.composite
def hostile_profiles(draw) -> dict:
    data = __import__("copy").deepcopy(BASE)
    for path, kind in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True)):
        accepted = ACCEPTED.get(path, ['"""$(id)" {x} \\ é'])
        value = draw(values) if draw(st.integers(0, 2)) == 0 else draw(st.sampled_from(accepted))
        if kind == "list" or (path == ("app", "region") and draw(st.booleans())):
            value = [value] if not draw(st.booleans()) else [value, draw(values)]
        _with(data, path, value)
    return data


def _skeleton(tree: ast.Module) -> list[tuple[str, ...]]:
    out = []
    for node in tree.body:
        if isinstance(node, ast.Expr):
            out.append(("doc",))
        elif isinstance(node, ast.Import):
            out.append(("import", *[a.name for a in node.names]))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.append(("=", node.targets[0].id))
        elif isinstance(node, ast.ClassDef):
            out.append(("class", node.name))
        elif isinstance(node, ast.FunctionDef):
            out.append(("def", node.name))
        else:
            out.append(("other", type(node).__name__))
    return out


def _expected_skeleton(p: Profile) -> list[tuple[str, ...]]:
    volume, bearer = p.model.store == "volume", p.server.auth == "bearer"
    out = [("doc",), ("import", "modal"), ("=", "APP_NAME"), ("=", "MODEL"), ("=", "OLLAMA_VERSION"), ("=", "TAGS"), ("=", "image")]
    out += [("=", "models")] * volume + [("=", "api_keys")] * bearer + [("=", "app"), ("class", CLASS_NAME)]
    out += [("def", PULL_FUNCTION)] * volume
    if p.warm.schedule:
        out += [("=", "WARM_WINDOWS"), ("=", "BASE_MIN_CONTAINERS"), ("def", SCHEDULE_FUNCTION)]
    return out


def _calls(node: ast.AST) -> dict[str, list[ast.Call]]:
    out: dict[str, list[ast.Call]] = {}
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            out.setdefault(n.func.attr, []).append(n)
    return {k: sorted(v, key=lambda c: (c.end_lineno, c.end_col_offset)) for k, v in out.items()}


def _kw(call: ast.Call, name: str) -> Any:
    return next(ast.literal_eval(k.value) for k in call.keywords if k.arg == name)


def check_rendered(p: Profile) -> None:
    source = render(p).source
    tree = ast.parse(source)  # a SyntaxError fails the property
    lines = source.split("\n")
    assert lines[0] == f"# Generated by omc {__version__} from profile {py_literal(p.name)}. Do not edit:"
    assert ast.literal_eval(lines[0].split(" from profile ", 1)[1].removesuffix(". Do not edit:")) == p.name
    assert lines[1].startswith("# change the profile") and lines[2] == f"# omc-config-hash: {config_hash(p)}"
    assert tree.body[0].lineno == 4 and ast.get_docstring(tree, clean=False) == module_docstring(p)
    assert _skeleton(tree) == _expected_skeleton(p)

    assigned = {n.targets[0].id: n.value for n in tree.body if isinstance(n, ast.Assign)}
    assert ast.literal_eval(assigned["APP_NAME"]) == p.app.name
    assert ast.literal_eval(assigned["MODEL"]) == p.model.name
    assert ast.literal_eval(assigned["OLLAMA_VERSION"]) == p.ollama.version
    assert ast.literal_eval(assigned["TAGS"]) == app_tags(p, config_hash(p))

    image = _calls(assigned["image"])
    (env,) = image["env"]
    assert ast.literal_eval(env.args[0]) == ollama_env(p)
    commands = [ast.literal_eval(a) for c in image["run_commands"] for a in c.args]
    expected = [ollama_install_command(p.ollama.version)] + ([] if p.model.store == "volume" else [pull_command(p.model.name)])
    assert commands == expected
    assert f"https://github.com/ollama/ollama/releases/download/v{p.ollama.version}/ollama-linux-amd64.tar.zst" in shlex.split(commands[0])
    if p.model.store != "volume":
        assert shlex.split(commands[1])[-1] == p.model.name
    else:
        (vol,) = _calls(assigned["models"])["from_name"]
        assert ast.literal_eval(vol.args[0]) == p.model.volume
    if p.server.auth == "bearer":
        (sec,) = _calls(assigned["api_keys"])["from_name"]
        assert ast.literal_eval(sec.args[0]) == p.server.api_key_secret

    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    kind = choose(p).kind
    (served,) = [d for d in cls.decorator_list if isinstance(d, ast.Call) and getattr(d.func, "attr", "") in ("cls", "server")]
    assert served.func.attr == ("server" if kind == SERVER else "cls")
    assert _kw(served, "gpu") == p.gpu.modal_spec
    if kind == SERVER:
        assert _kw(served, "routing_region") == p.server.routing_region
        if p.app.region is not None:
            assert _kw(served, "compute_region") == p.app.region
    else:
        if p.app.region is not None:
            assert _kw(served, "region") == p.app.region
        web = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == WEB_METHOD)
        (asgi,) = [d for d in web.decorator_list if isinstance(d, ast.Call)]
        assert _kw(asgi, "label") == p.label
    if p.warm.schedule:
        assert ast.literal_eval(assigned["WARM_WINDOWS"]) == [w.model_dump(mode="json") for w in p.warm.schedule]


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile_profiles())
def test_hostile_text_is_refused_or_rendered_as_data(data: dict) -> None:
    try:
        profile = Profile.model_validate(data)
    except ValidationError:
        return  # refused: the CLI reports it with exit 2 (tests/config)
    check_rendered(profile)


@settings(max_examples=max(EXAMPLES // 3, 10), derandomize=True, deadline=None, database=None)
@given(description=st.text(max_size=200), name=st.text(min_size=1, max_size=60))
def test_renderer_alone_is_safe_for_any_text(description: str, name: str) -> None:
    """Without validation too: the renderer never relies on the schema for safety."""
    base = resolve("a10g-balanced").profile
    check_rendered(base.model_copy(update={"description": description, "name": name}))


def test_the_property_sees_accepted_hostile_values() -> None:
    """Guard against a property that only ever exercises the 'refused' branch."""
    data = __import__("copy").deepcopy(BASE)
    _with(data, ("description",), 'say """hi""" ${HOME} $(id) {x} \\ é 😀')
    _with(data, ("name",), "it's \"quoted\" # not a comment")
    _with(data, ("app", "region"), ["us-east", "eu-west"])
    check_rendered(Profile.model_validate(data))


@pytest.mark.parametrize("primitive", ["function", "server"])
@pytest.mark.parametrize("store", ["volume", "image"])
@pytest.mark.parametrize("auth", ["bearer", "proxy", "none"])
def test_skeleton_of_every_shape(store: str, auth: str, primitive: str) -> None:
    data = __import__("copy").deepcopy(BASE)
    _with(data, ("server", "primitive"), primitive)
    _with(data, ("model", "store"), store)
    _with(data, ("server", "auth"), auth)
    _with(data, ("warm", "schedule", 0, "timezone"), "Europe/Berlin")
    check_rendered(Profile.model_validate(data))
