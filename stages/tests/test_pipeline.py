"""Each stage on the shipped tiny model, for real: reference → export → quantize → lower → execute."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL, Chain


def test_reference_gives_confident_greedy_tokens(fp32_portable: Chain) -> None:
    run = fp32_portable.reference
    assert run.code == 0, run.log
    prompts = run.result["data"]["prompts"]
    assert [len(p["fp32"]["ids"]) for p in prompts] == [24, 24]
    assert "".join(prompts[0]["fp32"]["pieces"]).startswith(" Paris . Paris lies on the Seine")
    assert all(p["fp32"]["min_margin"] > 4.0 for p in prompts)  # a wide top-1 margin at every step
    assert all(p["quantized"] is None for p in prompts)
    # What ran is what is installed (not one toolchain's pins: the suite runs on other toolchains too).
    assert run.result["toolchain"]["torch"] == importlib.metadata.version("torch")


def test_export_saves_a_reloadable_program_with_the_kv_cache_as_mutable_buffers(fp32_portable: Chain) -> None:
    run = fp32_portable.export
    assert run.code == 0, run.log
    data, art = run.result["data"], run.result["artefacts"]["program"]
    assert data["mutable_buffers"] == 4  # K and V for each of the 2 layers
    assert art["path"] == "program.pt2" and art["sha256"] == data["sha256"]
    assert not list(run.out.glob("*.partial"))


def test_fp32_quantize_passes_the_export_through_unchanged(fp32_portable: Chain) -> None:
    assert fp32_portable.quantize.code == 0, fp32_portable.quantize.log
    assert fp32_portable.quantize.result["data"]["sha256"] == fp32_portable.export.result["data"]["sha256"]


def test_portable_lowering_delegates_nothing_and_writes_a_manifest(fp32_portable: Chain) -> None:
    run = fp32_portable.lower
    assert run.code == 0, run.log
    manifest = json.loads((run.out / "manifest.json").read_text())
    assert manifest["delegation"]["delegated_subgraphs"] == 0
    assert (
        "aten.mm.default" in manifest["delegation"]["cpu_ops"]
        or "aten.linear.default" in manifest["delegation"]["cpu_ops"]
    )
    assert manifest["pte"]["sha256"] == run.result["artefacts"]["pte"]["sha256"]
    assert manifest["toolchain"]["executorch"] == importlib.metadata.version("executorch")
    assert manifest["model"]["eos_token_id"] == json.loads((MODEL / "config.json").read_text())["eos_token_id"]


def test_execute_matches_the_fp32_reference_and_reports_metrics(fp32_portable: Chain) -> None:
    run = fp32_portable.execute
    assert run.code == 0, run.log
    data = run.result["data"]
    ref = fp32_portable.reference.result["data"]["prompts"]
    assert [p["ids"] for p in data["prompts"]] == [p["fp32"]["ids"] for p in ref]
    metrics = data["metrics"]
    for name in ("decode_tokens_per_sec", "prefill_tokens_per_sec", "first_token_ms", "model_load_ms", "peak_rss_mb"):
        assert len(metrics[name]["samples"]) == 2 and all(s > 0 for s in metrics[name]["samples"]), name
    assert metrics["pte_bytes"]["samples"] == [fp32_portable.lower.result["artefacts"]["pte"]["bytes"]]


def test_8da4w_on_xnnpack_is_bit_exact_against_the_eager_quantized_reference(q_xnnpack: Chain) -> None:
    assert q_xnnpack.quantize.code == 0, q_xnnpack.quantize.log
    assert q_xnnpack.quantize.result["data"]["sha256"] != q_xnnpack.export.result["data"]["sha256"]
    assert q_xnnpack.lower.code == 0, q_xnnpack.lower.log
    assert q_xnnpack.lower.result["data"]["delegated_subgraphs"] > 0
    assert q_xnnpack.execute.code == 0, q_xnnpack.execute.log
    ref = q_xnnpack.reference.result["data"]["prompts"]
    assert all(p["quantized"] is not None for p in ref)
    assert [p["ids"] for p in q_xnnpack.execute.result["data"]["prompts"]] == [p["quantized"]["ids"] for p in ref]


def _constant_methods(pte: Path) -> dict[str, Any]:
    """Every method but ``forward``, run by the ExecuTorch runtime: what ``llama_main`` reads."""
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(pte)
    out: dict[str, Any] = {}
    for name in sorted(set(program.method_names) - {"forward"}):
        values = program.load_method(name).execute([])
        out[name] = values if name == "get_eos_ids" else values[0]
    return out


@pytest.mark.parametrize("chain", ["fp32_portable", "q_xnnpack"])
def test_a_decoder_lm_pte_carries_the_llm_runner_metadata_methods_with_the_model_values(
    chain: str, request: pytest.FixtureRequest
) -> None:
    run = request.getfixturevalue(chain).lower
    assert run.code == 0, run.log
    config = json.loads((MODEL / "config.json").read_text())
    generation = json.loads((MODEL / "generation_config.json").read_text())
    assert _constant_methods(run.out / "model.pte") == {
        "enable_dynamic_shape": True,
        "get_bos_id": config["bos_token_id"],
        "get_eos_ids": [generation["eos_token_id"]],
        "get_max_context_len": 128,
        "get_max_seq_len": 128,
        "get_n_layers": config["num_hidden_layers"],
        "get_vocab_size": config["vocab_size"],
        "use_kv_cache": True,
        "use_sdpa_with_kv_cache": False,
    }
