"""One price for a region-pinned deployment: the deploy plan, switch-warm's idle-cost line,
`omc cost` and `omc profiles list` count the same rates (pricing.rates_for, with Modal's region
multiplier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ollama_modal import catalog

PINNED = 'extends = "a10g-always-on"\n[app]\nregion = "us-east"\n'


def _monthly_per_container(omc, profile: str) -> float:
    r = omc("cost", "--profile", profile, "--rpm", "0.01", "--days", "1", "--json")
    assert r.exit_code == 0, r.stderr
    (row,) = json.loads(r.stdout) if isinstance(json.loads(r.stdout), list) else [json.loads(r.stdout)]
    return row["monthly_cost_usd"] / row["container_seconds"] * catalog.SECONDS_PER_MONTH


@pytest.mark.parametrize("extra", ["", "[prices]\nregion_multiplier = 2.5\n"])
def test_plan_switch_warm_cost_and_listing_agree_for_a_region_pinned_profile(omc, modal_server, profiles_dir: Path, extra: str) -> None:
    (profiles_dir / "pinned.toml").write_text(PINNED + extra)
    (profiles_dir / "unpinned.toml").write_text('extends = "a10g-always-on"\n')
    plan = json.loads(omc("deploy", "--profile", "pinned", "--dry-run", "--json").stdout)
    unpinned = json.loads(omc("deploy", "--profile", "unpinned", "--dry-run", "--json").stdout)
    factor = 2.5 if extra else catalog.REGION_MULTIPLIER_NARROW
    assert plan["idle_cost_usd_per_month"] == pytest.approx(unpinned["idle_cost_usd_per_month"] * factor, abs=0.02)

    per_container = _monthly_per_container(omc, "pinned")
    assert plan["idle_cost_usd_per_month"] == pytest.approx(per_container, abs=0.02)  # min_containers = 1

    (row,) = [p for p in json.loads(omc("profiles", "list", "--json").stdout) if p["name"] == "pinned"]
    assert row["idle_floor_usd_per_month"] == pytest.approx(plan["idle_cost_usd_per_month"], abs=0.02)

    r = omc("deploy", "--profile", "pinned", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    sw = omc("switch-warm", "--min-containers", "2", "--yes", "--json")
    assert sw.exit_code == 0, sw.stderr
    idle = json.loads(sw.stdout)["idle_cost_usd_per_month"]
    assert idle["before"] == pytest.approx(plan["idle_cost_usd_per_month"], abs=0.02)
    assert idle["after"] == pytest.approx(2 * per_container, abs=0.04)
    text = omc("switch-warm", "--min-containers", "1", "--yes")
    assert f"idle cost ${idle['after']:,.2f}/month -> ${idle['before']:,.2f}/month" in text.stderr, text.stderr
