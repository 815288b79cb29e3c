"""Per-version tag snapshots: what `omc rollback` puts back when old code runs again."""

from __future__ import annotations

import re

from ollama_modal import tags as T
from ollama_modal.config.loader import Origin, resolve
from ollama_modal.render import config_hash
from ollama_modal.services.ops import restored_tags

TAG = re.compile(r"^[A-Za-z0-9._-]{1,63}$")


def deployed(profile: str = "a10g-balanced") -> dict[str, str]:
    p = resolve(profile).profile
    return T.app_tags(p, config_hash(p))


def test_snapshot_round_trips_the_deployed_part_only() -> None:
    tags = T.with_live_overrides(deployed(), {"min_containers": 1, "max_containers": None})
    tags = T.with_snapshot(tags, 3)
    assert T.snapshot_of(tags, 3) == deployed()
    assert T.snapshot_of(tags, 2) is None
    for k, v in tags.items():  # Modal's tag alphabet and length, keys and values
        assert TAG.match(k) and TAG.match(v), (k, v)


def test_only_the_newest_snapshots_are_kept() -> None:
    tags = deployed("a10g-economy")
    for version in range(1, 8):
        tags = T.with_snapshot(tags, version)
    kept = sorted({int(k.split("-")[2]) for k in T.snapshots_only(tags)})
    assert kept == [4, 5, 6, 7] and len(kept) == T.KEEP_SNAPSHOTS
    # Re-snapshotting a version replaces it rather than adding a copy.
    again = T.with_snapshot({**deployed(), **T.snapshots_only(tags)}, 7)
    assert T.snapshot_of(again, 7) == deployed() and T.snapshot_of(again, 4) == deployed("a10g-economy")
    # No version: existing snapshots are pruned but none added.
    assert T.snapshots_only(T.with_snapshot(tags, None, keep=2)).keys() == {
        k for k in T.snapshots_only(tags) if k.split("-")[2] in ("6", "7")
    }


def test_damaged_snapshots_read_as_no_record() -> None:
    tags = T.with_snapshot(deployed(), 2)
    keys = sorted(T.snapshots_only(tags))
    missing = {k: v for k, v in tags.items() if k != keys[0]}
    assert T.snapshot_of(missing, 2) is None
    garbled = {**tags, keys[0]: "not-base64-zlib"}
    assert T.snapshot_of(garbled, 2) is None


def test_deployed_part_drops_overrides_snapshots_and_rollback_marker() -> None:
    tags = {**T.with_snapshot(T.with_live_overrides(deployed(), {"min_containers": 2}), 1), T.ROLLED_BACK_TO: "1"}
    assert T.deployed_part(tags) == deployed()


def test_restored_tags_prefers_omc_snapshot() -> None:
    before = T.with_snapshot({**deployed("a10g-economy"), **T.snapshot(1, deployed())}, 2)
    described, known = restored_tags(before, deployed("a10g-economy"), 1)
    assert known and described == deployed()


def test_restored_tags_trusts_tags_modal_put_back() -> None:
    # No snapshot, but the config hash changed across the rollback: Modal restored v1's tags.
    described, known = restored_tags(deployed("a10g-economy"), deployed(), 1)
    assert known and described == deployed()


def test_restored_tags_unknown_when_nothing_says_what_runs() -> None:
    # No snapshot and the tags did not change: they describe the newer version, not v1.
    described, known = restored_tags(deployed("a10g-economy"), deployed("a10g-economy"), 1)
    assert not known
    assert described[T.CONFIG_HASH] == T.UNKNOWN and described[T.ROLLED_BACK_TO] == "1"


# -- the value codec --------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.text(max_size=200))
def test_any_value_round_trips_through_tags_in_modals_alphabet(value: str) -> None:
    tags = {T.CODEC: T.CODEC_VERSION}
    T.put(tags, "omc-model", value)
    assert T.read(tags, "omc-model") == value
    for k, v in tags.items():
        assert TAG.match(k) and TAG.match(v), (k, v)
    assert T.recorded(tags)["omc-model"] == value


def test_real_names_decode_and_older_tags_read_as_they_are() -> None:
    p = resolve("a10g-balanced", {("gpu", "type"): ("h100", Origin("flag", "--gpu")), ("gpu", "fallback"): (["a100-80gb"], Origin("flag", "--gpu"))}).profile
    tags = T.app_tags(p, config_hash(p))
    assert T.read(tags, T.MODEL) == "codellama:7b" and T.read(tags, T.GPU) == "H100,A100-80GB"
    assert T.gpu_display(T.read(tags, T.GPU)) == "H100, A100-80GB"
    legacy = {"omc-model": "codellama_c7b", "omc-gpu": "H100_A100-80GB", "omc-profile": "my_profile"}
    assert T.read(legacy, T.MODEL) == "codellama:7b" and T.read(legacy, T.GPU) == "H100,A100-80GB"
    assert T.read(legacy, "omc-profile") == "my_profile"
    assert T.parse_gpu("H100,A100-80GBx2") == (["H100", "A100-80GB"], 2)
    assert T.parse_gpu("H100:2,A100-80GB:2") == (["H100", "A100-80GB"], 2)
