"""Hostile files, names and paths: exit 2 with a message naming the input, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _clean_exit_2(r, *names: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    for n in names:
        assert n in r.stderr, (n, r.stderr)


def test_5000_character_profile_name(omc) -> None:
    name = "a" * 5000
    for args in (("render", "--profile", name), ("profiles", "show", name), ("profiles", "validate", name), ("profiles", "new", name)):
        r = omc(*args)
        _clean_exit_2(r)
        assert len(r.stderr) < 2000  # the name is shown cut short
    r = omc("render", "--profile", "b" * 300)  # under the limit, still too long for one file name
    _clean_exit_2(r, "no profile named")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('description = "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
        (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"x = " + b"[" * 40 + b"]" * 40 + b"\n", "nested too deeply"),
        (b"[warm]\nmin_containers = " + b"9" * 5000 + b"\n", "x.toml"),
        (b"\x00\x01", "x.toml"),
    ],
    ids=["latin-1", "deep-arrays", "33-levels", "5000-digit-int", "binary"],
)
def test_bad_profile_files(omc, profiles_dir: Path, body: bytes, fragment: str) -> None:
    (profiles_dir / "x.toml").write_bytes(body)
    for args in (("profiles", "validate", "x"), ("render", "--profile", "x")):
        _clean_exit_2(omc(*args), fragment)


def test_profiles_list_marks_a_bad_file_and_lists_the_rest(omc, profiles_dir: Path) -> None:
    (profiles_dir / "good.toml").write_text('extends = "a10g-balanced"\n')
    (profiles_dir / "latin.toml").write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    (profiles_dir / "deep.toml").write_bytes(b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n")
    (profiles_dir / "dir.toml").mkdir()
    r = omc("profiles", "list", "--json")
    assert r.exit_code == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert "error" not in rows["good"] and "error" not in rows["a10g-balanced"]
    assert "not UTF-8" in rows["latin"]["error"]
    assert "nested too deeply" in rows["deep"]["error"]
    assert "error" in rows["dir"]
    table = omc("profiles", "list")
    assert table.exit_code == 0 and "invalid" in table.stdout and "good" in table.stdout


def _prompts(tmp_path: Path, body: bytes, name: str = "p.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(body)
    return p


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"prompt": "caf\xe9"}\n'.encode("latin-1"), "not UTF-8"),
        (b'{"messages": ' + b"[" * 100000 + b"]" * 100000 + b"}\n", "nested too deeply"),
        (b'{"prompt": "x", "max_tokens": ' + b"9" * 5000 + b"}\n", "digits"),
        (b'{"prompt": "x", "max_tokens": NaN}\n', "NaN"),
        (b'{"prompt": "x", "max_tokens": 1e999}\n', "too large"),
        (b'{"prompt": "ok"}\n{"prompt": 1\n', "p.jsonl:2"),
    ],
    ids=["latin-1", "deep", "5000-digits", "nan", "huge-float", "bad-line"],
)
def test_bad_prompts_files(omc, tmp_path: Path, body: bytes, fragment: str) -> None:
    p = _prompts(tmp_path, body)
    _clean_exit_2(omc("bench", "--url", "http://127.0.0.1:9", "--model", "m", "--prompts", str(p)), fragment, "p.jsonl")


def test_prompts_file_limits(tmp_path: Path, monkeypatch) -> None:
    from ollama_modal import safeio
    from ollama_modal.bench.prompts import load_prompts
    from ollama_modal.errors import UsageError

    big = "x" * (256 * 1024)  # one large field is fine
    p = _prompts(tmp_path, (json.dumps({"prompt": big}) + "\n").encode())
    assert load_prompts(p)[0].messages[0]["content"] == big
    # U+2028 inside a JSON string does not end the record
    p2 = _prompts(tmp_path, (json.dumps({"prompt": "a\u2028b"}, ensure_ascii=False) + "\n").encode(), "p2.jsonl")
    assert load_prompts(p2)[0].messages[0]["content"] == "a\u2028b"
    monkeypatch.setattr(safeio, "MAX_INPUT_BYTES", 1024)
    with pytest.raises(UsageError) as exc:
        load_prompts(p)
    assert "larger than" in exc.value.message
    with pytest.raises(UsageError) as exc:
        load_prompts(tmp_path)
    assert "directory" in exc.value.message


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999", "http://", "ftp://x", "http://a b", "http://h/\n"])
def test_bad_bench_urls(omc, url: str) -> None:
    _clean_exit_2(omc("bench", "--url", url, "--model", "m"), "--url")


def test_render_output_paths(omc, tmp_path: Path) -> None:
    _clean_exit_2(omc("render", "--profile", "a10g-balanced", "-o", str(tmp_path)), "--output", "directory")
    _clean_exit_2(omc("render", "--profile", "a10g-balanced", "-o", ""), "--output")
    (tmp_path / "file").write_text("x")
    _clean_exit_2(omc("render", "--profile", "a10g-balanced", "-o", str(tmp_path / "file" / "app.py")), "--output")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _clean_exit_2(omc("render", "--profile", "a10g-balanced", "-o", str(fifo)), "not a regular file")
    assert fifo.is_fifo()
    r = omc("render", "--profile", "a10g-balanced", "-o", str(tmp_path / "new" / "app.py"))
    assert r.exit_code == 0 and (tmp_path / "new" / "app.py").is_file()


def test_plot_into_a_missing_directory(omc, tmp_path: Path) -> None:
    r = omc("cost", "--rpm", "1", "--days", "1", "--plot", str(tmp_path / "missing" / "x.png"))
    _clean_exit_2(r, "--plot", "does not exist")
    _clean_exit_2(omc("cost", "--rpm", "1", "--days", "1", "--plot", str(tmp_path)), "--plot", "directory")


def test_listing_cache_holds_no_secrets(omc, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMC_API_KEY", "sk-very-secret-1")
    monkeypatch.setenv("OMC_API_KEYS", "sk-very-secret-2,sk-very-secret-3")
    monkeypatch.setenv("OMC_GPU", "h100")
    assert omc("profiles", "list", "--json").exit_code == 0
    cache = tmp_path / ".omc-cache" / "profiles-list.json"
    text = cache.read_text()
    assert "sk-very-secret" not in text and "OMC_API_KEY" not in text
    # still keyed on the environment: another override rebuilds the rows
    first = {r["name"]: r for r in json.loads(omc("profiles", "list", "--json").stdout)}
    monkeypatch.setenv("OMC_GPU", "t4")
    second = {r["name"]: r for r in json.loads(omc("profiles", "list", "--json").stdout)}
    assert first["a10g-balanced"]["gpu"] == "H100" and second["a10g-balanced"]["gpu"] == "T4"


def test_output_directories_that_cannot_be(omc, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    _clean_exit_2(omc("profiles", "init", "--dir", str(tmp_path / "afile")), "afile")
    _clean_exit_2(omc("profiles", "new", "mine", "--dir", str(tmp_path / "afile")), "afile")
    r = omc("bench", "--url", "http://127.0.0.1:9", "--model", "m", "--save", str(tmp_path))
    _clean_exit_2(r, "--save", "directory")


def test_profiles_dir_variable_too_long(omc, monkeypatch) -> None:
    monkeypatch.setenv("OMC_PROFILES_DIR", "d" * 5000)
    for args in (("profiles", "list"), ("render", "--profile", "a10g-balanced")):
        _clean_exit_2(omc(*args), "OMC_PROFILES_DIR")


def test_markup_in_users_values_is_printed_as_text(omc, profiles_dir: Path, tmp_path: Path) -> None:
    (profiles_dir / "mk.toml").write_text('extends = "a10g-balanced"\n[model]\nname = "[/x]"\n')
    r = omc("profiles", "list")
    assert r.exit_code == 0 and "[/x]" in r.stdout, r.stderr
    out = tmp_path / "[red]d[/x]"
    out.mkdir(parents=True)
    r = omc("render", "--profile", "a10g-balanced", "-o", str(out / "[bold]app.py"))
    assert r.exit_code == 0 and "[bold]app.py" in r.stderr, r.stderr


def test_internal_error_message_with_brackets(omc, monkeypatch) -> None:
    import ollama_modal.render as render_module

    def boom(profile):
        raise RuntimeError("bad value [/x] here")

    monkeypatch.setattr(render_module, "render", boom)
    r = omc("render", "--profile", "a10g-balanced")
    assert r.exit_code == 1 and "internal error: RuntimeError: bad value [/x] here" in r.stderr


def test_markup_in_a_profile_name_does_not_break_the_plan(omc, profiles_dir: Path) -> None:
    (profiles_dir / "mk.toml").write_text('extends = "a10g-balanced"\nname = "x[/red]"\ndescription = "[/b]"\n')
    r = omc("deploy", "--profile", "mk", "--dry-run")
    assert "MarkupError" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert "x[/red]" in r.stdout + r.stderr
