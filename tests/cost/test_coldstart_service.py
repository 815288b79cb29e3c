"""Cold-start breakdown and service times."""

from __future__ import annotations

import numpy as np
import pytest

from ollama_modal import catalog
from ollama_modal.cost.coldstart import READ_GBS, estimate_cold_start
from ollama_modal.cost.service import ServiceModel, decode_tokens_per_s, service_times

T4 = catalog.GPUS["T4"]
H100 = catalog.GPUS["H100"]
GB4 = 4e9


def test_breakdown_adds_up_and_depends_on_store() -> None:
    vol = estimate_cold_start(T4, GB4, store="volume")
    img = estimate_cold_start(T4, GB4, store="image")
    assert vol.model_load_s == pytest.approx(4 / READ_GBS["volume"])
    assert img.model_load_s == pytest.approx(4 / READ_GBS["image"])
    assert vol.total_s == pytest.approx(vol.container_start_s + vol.server_start_s + vol.model_load_s + vol.warmup_s)
    assert vol.as_dict()["total_s"] == vol.total_s
    assert 5 <= vol.container_start_s <= 15


def test_every_term_overridable() -> None:
    cs = estimate_cold_start(H100, GB4, container_start_s=1, server_start_s=2, model_load_s=3, warmup_s=4)
    assert cs.total_s == 10
    assert estimate_cold_start(H100, GB4, warmup=False).warmup_s == 0
    assert estimate_cold_start(H100, GB4, read_gbs=4).model_load_s == pytest.approx(1)
    with pytest.raises(ValueError, match="unknown model store"):
        estimate_cold_start(H100, GB4, store="tape")


def test_service_times() -> None:
    assert service_times(ServiceModel(service_seconds=2.5), 3).tolist() == [2.5] * 3
    rate = decode_tokens_per_s(T4, GB4)
    assert rate == pytest.approx(320e9 / GB4 * 0.6)
    s = service_times(ServiceModel(output_tokens=128, prompt_seconds=0.5), 2, T4, GB4)
    assert s.tolist() == pytest.approx([128 / rate + 0.5] * 2)
    per_req = service_times(ServiceModel(prompt_seconds=0), 2, H100, GB4, output_tokens=np.array([0.0, 100.0]))
    assert per_req[0] > 0 and per_req[1] == pytest.approx(100 / decode_tokens_per_s(H100, GB4))
    # Two GPUs split the weights: twice the roofline.
    assert service_times(ServiceModel(prompt_seconds=0), 1, T4, GB4, gpu_count=2)[0] == pytest.approx(256 / rate / 2)
    with pytest.raises(ValueError):
        service_times(ServiceModel(), 1)
