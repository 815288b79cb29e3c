"""Region pinning multiplies Modal's prices (1.5x for a broad region, 1.75x for a narrow one)."""

from __future__ import annotations

import pytest

from ollama_modal import catalog
from ollama_modal.config import resolve
from ollama_modal.pricing import rates_for, region_multiplier


@pytest.mark.parametrize("region,factor", [(None, 1.0), ("us", 1.5), ("eu", 1.5), ("us-west", 1.75), ("us-east-1", 1.75),
                                           (["us", "eu"], 1.5), (["us", "us-west"], 1.75)])
def test_region_multiplier(region, factor) -> None:  # type: ignore[no-untyped-def]
    assert region_multiplier(region) == factor


def test_rates_carry_the_multiplier_and_a_profile_can_override_it() -> None:
    base = resolve("a10g-balanced").profile
    plain = rates_for(base)
    pinned = rates_for(base.model_copy(update={"app": base.app.model_copy(update={"region": "us-west"})}))
    assert pinned.gpu_per_second == pytest.approx(plain.gpu_per_second * 1.75)
    assert pinned.cpu_per_core_second == pytest.approx(plain.cpu_per_core_second * 1.75)
    assert pinned.memory_per_gib_second == pytest.approx(plain.memory_per_gib_second * 1.75)
    assert "region" in pinned.source and catalog.REGION_PRICES_DATE in pinned.source
    custom = base.model_copy(update={"app": base.app.model_copy(update={"region": "us-west"}),
                                     "prices": base.prices.model_copy(update={"region_multiplier": 1.2})})
    assert rates_for(custom).gpu_per_second == pytest.approx(plain.gpu_per_second * 1.2)
