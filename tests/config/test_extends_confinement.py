"""`extends` names profiles omc finds by name: never a file elsewhere on the machine.

A profile (from a repository, a colleague, CI) is hostile input: `extends = "/home/me/x.toml"`,
`"../../elsewhere"` or a symlink out of the profiles directory must not make omc read that
file. Each is refused (exit 2) naming the file, the key and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_modal.config import resolve
from ollama_modal.errors import ConfigError

SECRET_MODEL = "leaked:1b"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A valid profile outside every profiles directory (its model would show if it were read)."""
    d = tmp_path / "elsewhere"
    d.mkdir()
    (d / "secret.toml").write_text(f'extends = "a10g-balanced"\n[model]\nname = "{SECRET_MODEL}"\nsize_gb = 1\n')
    return d / "secret.toml"


def refused(profiles_dir: Path, value: str) -> ConfigError:
    body = f"extends = {_toml_str(value)}\n"
    (profiles_dir / "x.toml").write_text(body)
    with pytest.raises(ConfigError) as exc:
        resolve("x")
    return exc.value


def _toml_str(s: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in s) + '"'


def assert_names_the_culprit(e: ConfigError, profiles_dir: Path) -> None:
    text = " ".join([e.message, *e.problems, e.hint or ""])
    assert "profiles/x.toml" in text and "extends" in text, text
    assert SECRET_MODEL not in text


@pytest.mark.parametrize("value", ["{outside}", "{outside_noext}", "../elsewhere/secret", "parts/../../elsewhere/secret",
                                   "../elsewhere/secret.toml", "./a10g-balanced.toml", "~/secret", "parts\\base"])
def test_paths_and_escapes_are_refused(profiles_dir: Path, outside: Path, value: str) -> None:
    value = value.format(outside=outside, outside_noext=str(outside)[:-5])
    e = refused(profiles_dir, value)
    assert_names_the_culprit(e, profiles_dir)
    assert "profile name" in (e.hint or "") + e.message


def test_a_symlink_out_of_the_profiles_directory_is_refused(profiles_dir: Path, outside: Path) -> None:
    os.symlink(outside, profiles_dir / "sneaky.toml")
    e = refused(profiles_dir, "sneaky")
    assert_names_the_culprit(e, profiles_dir)
    assert "outside" in e.message


def test_a_symlinked_parts_directory_out_of_the_profiles_directory_is_refused(profiles_dir: Path, outside: Path) -> None:
    os.symlink(outside.parent, profiles_dir / "parts")
    e = refused(profiles_dir, "parts/secret")
    assert_names_the_culprit(e, profiles_dir)


def test_names_still_work_project_builtin_parts_and_symlinks_inside(profiles_dir: Path) -> None:
    (profiles_dir / "parts").mkdir()
    (profiles_dir / "parts" / "mine.toml").write_text('[warm]\nscaledown_window = 77\n')
    (profiles_dir / "base.toml").write_text('extends = ["a10g-balanced", "parts/mine"]\n')
    os.symlink(profiles_dir / "base.toml", profiles_dir / "alias.toml")  # inside: fine
    (profiles_dir / "x.toml").write_text('extends = ["alias", "parts/warm-economy", "parts/mine"]\n')
    p = resolve("x").profile
    assert p.warm.scaledown_window == 77 and p.gpu.type == "A10"


def test_a_profile_given_by_path_extends_its_neighbours_and_the_profiles(tmp_path: Path, profiles_dir: Path) -> None:
    d = tmp_path / "team"
    d.mkdir()
    (d / "base.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 55\n')
    (d / "mine.toml").write_text('extends = "base"\n')
    assert resolve(str(d / "mine.toml")).profile.warm.scaledown_window == 55


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.lists(st.sampled_from(list("./\\~:abc-_ \x00\t%$") + ["..", "../", "/etc/", "C:\\", "elsewhere", "secret"]),
             max_size=12).map("".join),
    st.builds(lambda a, b: a + b, st.sampled_from(["/", "../", "..\\", "~/", "parts/../", "./", "parts//", "/tmp/"]),
              st.text(st.characters(exclude_categories=("Cs",)), max_size=20)),
))
def test_hostile_names_never_reach_a_file_outside(profiles_dir: Path, outside: Path, value: str) -> None:
    """Whatever the value: the outside profile's model never shows, and a refusal is a ConfigError
    naming the file and `extends` (never another exception)."""
    (profiles_dir / "x.toml").write_text(f"extends = {_toml_str(value)}\n")
    try:
        p = resolve("x").profile
    except ConfigError as e:
        assert_names_the_culprit(e, profiles_dir)
    else:
        assert p.model.name != SECRET_MODEL


def test_the_cli_refuses_with_exit_2(omc, profiles_dir: Path, outside: Path) -> None:
    (profiles_dir / "x.toml").write_text(f'extends = "{outside}"\n')
    r = omc("profiles", "show", "x")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "x.toml" in r.stderr and "extends" in r.stderr and "Traceback" not in r.stderr
    assert SECRET_MODEL not in r.stdout + r.stderr


def test_profiles_new_from_a_file_writes_its_name(omc, profiles_dir: Path, outside: Path) -> None:
    """`profiles new --from FILE.toml` writes what `extends` accepts: the file's name in a
    profiles directory; a file elsewhere is refused (exit 2) instead of written as a path."""
    (profiles_dir / "team.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 42\n')
    r = omc("profiles", "new", "mine", "--from", str(profiles_dir / "team.toml"))
    assert r.exit_code == 0, r.stderr
    assert 'extends = "team"' in (profiles_dir / "mine.toml").read_text()
    assert resolve("mine").profile.warm.scaledown_window == 42
    r = omc("profiles", "new", "other", "--from", str(outside))
    assert r.exit_code == 2 and "--from" in r.stderr and "copy it" in r.stderr, r.stderr
    assert not (profiles_dir / "other.toml").exists()
