"""Execute's measurement for real on the tiny model: ABBA interleaving, per-rep telemetry, cool-down
flags, and which timer measured decode (ExecuTorch's C++ runner, or the Python loop as the fallback)."""

from __future__ import annotations

from pathlib import Path

from conftest import Chain, execute_spec, run_stage


def _hot_sysfs(root: Path) -> Path:
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("85000\n")
    (zone / "type").write_text("cpu-thermal\n")
    return root


def test_interleaves_base_and_head_in_abba_order_and_reports_both(fp32_portable: Chain, tmp_path: Path) -> None:
    low = fp32_portable.lower.out
    prompt_ids = [p["prompt_ids"] for p in fp32_portable.reference.result["data"]["prompts"]]
    spec = execute_spec(low, "fp32", "portable", prompt_ids, reps=2)
    spec["inputs"] |= {"base_pte": str(low / "model.pte"), "base_manifest": str(low / "manifest.json")}
    run = run_stage("execute", spec, tmp_path / "execute")
    assert run.code == 0, run.log
    data = run.result["data"]
    assert data["order"] == ["base", "head", "head", "base"]
    for role in (data, data["base"]):
        # Both roles timed by ExecuTorch's own runner, its output checked against the gated ids.
        assert role["timer"] == "text-llm-runner" and "timer_fallback" not in role, role.get("timer_fallback")
        decode = role["metrics"]["decode_tokens_per_sec"]
        assert len(decode["samples"]) == 2 and decode["sample_flags"] == [[], []]
        assert [(t["rep"], t["phase"]) for t in role["telemetry"]] == [
            (0, "before"),
            (0, "after"),
            (1, "before"),
            (1, "after"),
        ]
        assert [p["ids"] for p in role["prompts"]] == [
            p["fp32"]["ids"] for p in fp32_portable.reference.result["data"]["prompts"]
        ]


def test_a_forced_python_loop_times_decode_and_says_so(fp32_portable: Chain, tmp_path: Path) -> None:
    low = fp32_portable.lower.out
    prompt_ids = [p["prompt_ids"] for p in fp32_portable.reference.result["data"]["prompts"]]
    spec = execute_spec(low, "fp32", "portable", prompt_ids, reps=1)
    spec["options"] = {"timer": "python-loop"}
    run = run_stage("execute", spec, tmp_path / "execute")
    assert run.code == 0, run.log
    data = run.result["data"]
    assert data["timer"] == "python-loop" and "forced" in data["timer_fallback"]
    assert data["metrics"]["decode_tokens_per_sec"]["samples"][0] > 0
    assert [p["ids"] for p in data["prompts"]] == [
        p["fp32"]["ids"] for p in fp32_portable.reference.result["data"]["prompts"]
    ]


def test_a_base_whose_manifest_does_not_match_is_refused(fp32_portable: Chain, tmp_path: Path) -> None:
    low = fp32_portable.lower.out
    fake = tmp_path / "other.pte"
    fake.write_bytes(b"not the pte")
    spec = execute_spec(low, "fp32", "portable", [[1, 2, 3]], reps=1)
    spec["inputs"] |= {"base_pte": str(fake), "base_manifest": str(low / "manifest.json")}
    run = run_stage("execute", spec, tmp_path / "execute")
    assert run.code == 3 and "sha256" in run.result["error"]["message"]


# @fault thermal | a thermal zone held at 85 °C through the cool-down | every rep is kept but flagged hot
def test_a_rep_still_hot_after_the_cool_down_is_flagged_not_dropped(fp32_portable: Chain, tmp_path: Path) -> None:
    low = fp32_portable.lower.out
    prompt_ids = [p["prompt_ids"] for p in fp32_portable.reference.result["data"]["prompts"]]
    spec = execute_spec(low, "fp32", "portable", prompt_ids, reps=2)
    spec["execute"]["cooldown"] = {"below_c": 50, "max_wait_s": 0.2, "poll_s": 0.1}
    spec["options"] = {"telemetry_root": str(_hot_sysfs(tmp_path / "root"))}
    run = run_stage("execute", spec, tmp_path / "execute")
    assert run.code == 0, run.log
    data = run.result["data"]
    decode = data["metrics"]["decode_tokens_per_sec"]
    assert len(decode["samples"]) == 2 and decode["sample_flags"] == [["hot"], ["hot"]]
    before = [t for t in data["telemetry"] if t["phase"] == "before"]
    assert all(t["thermal_c"] == {"thermal_zone0:cpu-thermal": 85.0} for t in before)
    assert all(t["cooldown_wait_s"] >= 0.2 for t in before)
