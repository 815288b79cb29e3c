"""status: readable, JSON, and a CI gate."""

from __future__ import annotations

import json
from pathlib import Path

from .test_deploy import deploy


def test_not_deployed(omc, modal_server) -> None:
    r = omc("status", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["deployed"] is False
    assert omc("status", "--check").exit_code == 4


def test_deployed_status_json(omc, modal_server) -> None:
    dep = json.loads(deploy(omc).stdout)
    omc("switch-warm", "--min-containers", "1", "--yes")
    r = omc("status", "--json", "--no-health")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["deployed"] and st["profile"] == "a10g-balanced" and st["gpu"] == "A10"
    assert st["url"] == dep["url"]
    assert st["warm"]["min_containers"] == 1 and st["live_overrides"] == {"min_containers": 1}
    assert st["warm_profile"]["min_containers"] == 0
    assert st["drift"] == [] and st["drift_checked"] is True
    assert omc("status", "--check", "--no-health").exit_code == 0


def test_unreachable_endpoint_fails_the_gate(omc, modal_server) -> None:
    deploy(omc)
    r = omc("status", "--check", "--json")
    assert r.exit_code == 4
    st = json.loads(r.stdout)
    assert st["health"]["ready"] is False and "error" in st["health"]


def test_drift_against_local_profile(omc, modal_server, profiles_dir: Path) -> None:
    deploy(omc)
    (profiles_dir / "a10g-balanced.toml").write_text('extends = ["parts/base", "parts/gpu-a10g", "parts/warm-economy"]\n')
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    drift = {d["field"]: d for d in json.loads(r.stdout)["drift"]}
    assert drift["scaledown_window"]["deployed"] == "300" and drift["scaledown_window"]["local"] == "10"


def test_status_shows_the_warm_schedule(omc, modal_server, profiles_dir: Path) -> None:
    (profiles_dir / "sched.toml").write_text(
        'extends = "a10g-economy"\n[[warm.schedule]]\ndays = "daily"\nstart = "00:00"\nend = "24:00"\nmin_containers = 1\n'
    )
    r = omc("deploy", "--profile", "sched", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    fns = [c.function.function_name for c in modal_server.calls("FunctionCreate")]
    assert "apply_warm_schedule" in fns
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["active_window"]["window"]["min_containers"] == 1


def test_status_shows_real_names_not_tag_encodings(omc, modal_server) -> None:
    deploy(omc)
    assert omc("switch-gpu", "h100,a100-80gb", "--yes").exit_code == 0
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["model"] == "codellama:7b" and st["gpu"] == "H100, A100-80GB" and st["gpu_recorded"] == "H100, A100-80GB"
    assert st["gpu_switch"]["gpu"] == "H100, A100-80GB"
    table = omc("status", "--no-health").stdout
    assert "codellama:7b" in table and "H100, A100-80GB" in table
    assert "codellama_c7b" not in table and "H100_" not in table
    hist = json.loads(omc("history", "--json").stdout)
    assert hist[0]["tags"]["omc-model"] == "codellama:7b" and hist[0]["tags"]["omc-gpu"] == "H100,A100-80GB"


def test_status_reads_the_autoscaler_modal_runs_and_flags_a_hand_made_change(omc, modal_server) -> None:
    from ollama_modal.adapters.modal_backend import ModalBackend

    deploy(omc)
    ModalBackend().served("omc-ollama", "function").update_autoscaler(min_containers=2)  # not through omc
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    st = json.loads(r.stdout)
    assert st["warm"]["min_containers"] == 2 and st["live_overrides"] == {}
    assert st["runtime_drift"] == [{"field": "min_containers", "recorded": "0", "running": 2}]
    assert "what Modal runs differs" in r.stderr and "min_containers" in r.stderr
    assert "min_containers=2 (omc recorded 0)" in omc("status", "--no-health").stdout


def test_status_reads_the_gpu_modal_runs(omc, modal_server, tmp_path: Path) -> None:
    """A module deployed by hand that keeps omc's tags but runs another GPU cannot hide."""
    from ollama_modal.adapters.modal_backend import ModalBackend
    from ollama_modal.config import resolve
    from ollama_modal.render import render

    deploy(omc)
    source = render(resolve("a10g-balanced").profile).source
    assert 'gpu="A10"' in source
    hand = tmp_path / "hand_edited.py"
    hand.write_text(source.replace('gpu="A10"', 'gpu="L4"'))
    ModalBackend().deploy_file(hand, "omc-ollama")
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    st = json.loads(r.stdout)
    assert st["gpu"] == "L4" and st["gpu_recorded"] == "A10"
    assert {"field": "gpu", "recorded": "A10", "running": "L4"} in st["runtime_drift"]


def test_check_without_the_local_profile_compares_with_what_omc_recorded(omc, modal_server, profiles_dir: Path) -> None:
    from ollama_modal.adapters.modal_backend import ModalBackend

    (profiles_dir / "custom.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 120\n')
    assert omc("deploy", "--profile", "custom", "--yes").exit_code == 0
    (profiles_dir / "custom.toml").unlink()
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["drift_checked"] is True and st["drift_basis"] == "recorded" and st["runtime_drift"] == []
    assert "--profile NAME|PATH" in r.stderr
    assert "against what omc recorded at deploy" in omc("status", "--no-health").stdout

    ModalBackend().served("omc-ollama", "function").update_autoscaler(scaledown_window=30)
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    assert json.loads(r.stdout)["runtime_drift"] == [{"field": "scaledown_window", "recorded": "120", "running": 30}]


def test_check_fails_when_no_comparison_could_be_made(omc, modal_server, profiles_dir: Path) -> None:
    (profiles_dir / "custom.toml").write_text('extends = "a10g-balanced"\n')
    assert omc("deploy", "--profile", "custom", "--yes").exit_code == 0
    (profiles_dir / "custom.toml").unlink()
    modal_server.fail("FunctionGetSchedulingParams", "UNAVAILABLE", times=None)
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    assert json.loads(r.stdout)["drift_checked"] is False
    assert "drift not checked" in r.stderr and "--profile" in r.stderr


def test_status_reads_tags_written_before_the_codec(omc, modal_server) -> None:
    """Apps tagged by an older omc: ',' became '_' and the model was escaped on its own."""
    deploy(omc)
    assert omc("switch-gpu", "h100,a100-80gb", "--yes").exit_code == 0
    app = modal_server.state.app_named("omc-ollama")
    legacy = {k: v for k, v in app.tags.items() if k not in ("omc-codec", "omc-gpu-switch") and not k.startswith("omc-snap-")}
    legacy.update({"omc-gpu": "H100_A100-80GB", "omc-model": "codellama_c7b"})
    app.tags = legacy
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["gpu_recorded"] == "H100, A100-80GB" and st["model"] == "codellama:7b"
    assert st["runtime_drift"] == []
