"""The Ethos-U path on this host, for real: Arm's PT2E quantizer, the EthosUPartitioner with the
Vela compiler (U55-128, U85-256), and the TOSA-lowered .pte on the TOSA reference model.

The case is Arm's lab: a MobileNetV2-like CNN lowers to one NPU subgraph; the same CNN with a
LocalResponseNorm (which the NPU lacks) fragments into NPU and CPU pieces, and the alarm fires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cnn_support import ARM_BACKENDS, MODELS_DIR, CnnBuild, cnn_spec, execute, lower
from conftest import run_stage

QDQ = {
    "quantized_decomposed.dequantize_per_tensor.default": 1,
    "quantized_decomposed.quantize_per_tensor.default": 1,
}
ETHOS_U = ("ethos-u55-128", "ethos-u85-256")


def _delegates(pte: Path) -> list[str]:
    from executorch.exir._serialize._program import deserialize_pte_binary

    plan = deserialize_pte_binary(pte.read_bytes()).program.execution_plan[0]
    return [d.id for d in plan.delegates]


@pytest.mark.parametrize("backend", ETHOS_U)
def test_the_small_cnn_lowers_to_one_ethos_u_delegate_with_only_the_io_quantize_on_the_cpu(
    cnn: dict[str, CnnBuild], backend: str
) -> None:
    low = cnn["small-cnn"].lower[backend]
    data = low.result["data"]
    assert data["delegated_subgraphs"] == 1
    assert data["cpu_ops"] == QDQ  # the input quantize and output dequantize: the .pte's float I/O
    assert data["subgraph_ops"] == [data["delegated_ops"]]
    assert _delegates(low.out / "model.pte") == ["EthosUBackend"]
    manifest = low.result["artefacts"]["manifest"]["path"]
    toolchain = (low.out / manifest).read_text()
    assert '"ethos-u-vela": "5.1.0"' in toolchain


@pytest.mark.parametrize("backend", [*ETHOS_U, "tosa"])
def test_an_lrn_layer_fragments_the_graph_and_the_fragmentation_alarm_fires(
    cnn: dict[str, CnnBuild], backend: str
) -> None:
    data = cnn["small-cnn-lrn"].lower[backend].result["data"]
    assert data["delegated_subgraphs"] == 2
    # LocalResponseNorm decomposes into ops the partitioner takes, except the 3-D average pool
    # over channels, which runs on the CPU between a dequantize and a quantize.
    assert data["cpu_ops"] == {
        "aten.avg_pool3d.default": 1,
        "quantized_decomposed.dequantize_per_tensor.default": 2,
        "quantized_decomposed.quantize_per_tensor.default": 2,
    }
    assert len(data["subgraph_ops"]) == 2 and sum(data["subgraph_ops"]) == data["delegated_ops"]
    frag = data["fragmentation"]
    assert frag["alarm"] is True
    assert (frag["base_subgraphs"], frag["head_subgraphs"]) == (1, 2)
    assert frag["cpu_ops_added"]["aten.avg_pool3d.default"] == 1
    assert "fragmented: 1 → 2" in frag["message"]
    assert "FRAGMENTATION ALARM" in cnn["small-cnn-lrn"].lower[backend].log


@pytest.mark.parametrize("model", ["small-cnn", "small-cnn-lrn"])
def test_the_tosa_reference_model_matches_the_pytorch_quantized_model_within_one_quantum(
    cnn: dict[str, CnnBuild], model: str
) -> None:
    build = cnn[model]
    assert build.execute is not None
    reference = build.reference.result["data"]["prompts"]
    executed = build.execute.result["data"]["prompts"]
    assert len(executed) == len(reference) == 10
    for ref, got in zip(reference, executed, strict=True):
        assert got["ids"] == ref["quantized"]["ids"], ref["prompt"]
        diffs = [abs(a - b) for a, b in zip(ref["quantized"]["output_q"], got["output_q"], strict=True)]
        assert max(diffs) <= 1, f"{ref['prompt']}: INT8 codes differ by up to {max(diffs)} quanta"
    # The model is right, too: every evaluation image is its own class, in FP32 and quantized.
    assert build.reference.result["data"]["correct"] == {"fp32": "10/10", "quantized": "10/10"}
    assert build.execute.result["data"]["model_kind"] == "cnn"


def test_the_quantize_stage_program_computes_what_the_reference_held_it_to(cnn: dict[str, CnnBuild]) -> None:
    import torch

    from pte_stages.modeling import small_cnn as model_lib
    from pte_stages.programs import load_program
    from pte_stages.pt2e import to_quanta

    build = cnn["small-cnn-lrn"]
    ref = build.reference.result["data"]
    program = load_program(build.quantize.out / "program.pt2").module()
    cfg = model_lib.load_config(MODELS_DIR / "small-cnn-lrn")
    images, _ = model_lib.images(cfg, cfg.eval)
    q = ref["output_quantization"]
    with torch.no_grad():
        codes = [to_quanta(program(img[None])[0], q["scale"], q["zero_point"]) for img in images]
    assert codes == [p["quantized"]["output_q"] for p in ref["prompts"]]


def test_an_ethos_u_pte_is_refused_on_the_host_with_where_it_runs(cnn: dict[str, CnnBuild], tmp_path: Path) -> None:
    low = cnn["small-cnn"].lower["ethos-u55-128"]
    inputs = {"pte": str(low.out / "model.pte"), "manifest": str(low.out / "manifest.json")}
    spec = cnn_spec("execute", "small-cnn", "ethos-u55-128", inputs=inputs, execute={"prompt_ids": [[0]]})
    run = run_stage("execute", spec, tmp_path)
    assert run.code == 2
    assert "Corstone FVP" in run.result["error"]["message"]


def test_an_fp32_program_is_refused_by_the_arm_backends(cnn: dict[str, CnnBuild], tmp_path: Path) -> None:
    fp32 = cnn["small-cnn"].export.out / "program.pt2"
    run = lower(tmp_path, "small-cnn", fp32, "tosa")
    assert run.code == 2
    assert "not INT8-quantized" in run.result["error"]["message"]


def test_execute_refuses_an_image_index_outside_the_evaluation_set(cnn: dict[str, CnnBuild], tmp_path: Path) -> None:
    run = execute(tmp_path, "small-cnn", cnn["small-cnn"].lower["tosa"], [[0], [10]])
    assert run.code == 2
    assert "evaluation image" in run.result["error"]["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recipe": {"name": "8da4w-g32", "scheme": "8da4w", "group_size": 32}}, "scheme 'pt2e-int8'"),
        ({"recipe": {"name": "q", "scheme": "pt2e-int8", "symmetric": False}}, "symmetric"),
        ({"recipe": {"name": "q", "scheme": "pt2e-int8", "target": "ethos-u99"}}, "target must be one of"),
        ({"model_input_shape": [1, 3, 64, 64]}, "input_shape [1, 3, 64, 64]"),
        ({"model_kind": "decoder-lm"}, "holds a cnn model"),
    ],
)
def test_a_cnn_spec_with_a_wrong_recipe_or_shape_is_a_config_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    spec = cnn_spec("export" if "model_input_shape" in change or "model_kind" in change else "quantize", "small-cnn")
    if "recipe" in change:
        spec["recipe"] = change["recipe"]
        spec["inputs"] = {"program": __file__}  # never read: the recipe is refused first
    if "model_input_shape" in change:
        spec["model"]["input_shape"] = change["model_input_shape"]
    if "model_kind" in change:
        spec["model"]["kind"] = change["model_kind"]
    run = run_stage(spec["stage"], spec, tmp_path)
    assert run.code == 2, run.log[-2000:]
    assert message in run.result["error"]["message"]


def test_the_backends_refuse_a_missing_target_or_profile(tmp_path: Path) -> None:
    cases = (("ethos-u55-128", "target", "target must be one of"), ("tosa", "profile", "profile must be one of"))
    for backend, field, message in cases:
        spec = cnn_spec("lower", "small-cnn", backend, inputs={"program": __file__})
        spec["backend"] = {k: v for k, v in ARM_BACKENDS[backend].items() if k != field}
        run = run_stage("lower", spec, tmp_path / backend)
        assert run.code == 2, run.log[-2000:]
        assert message in run.result["error"]["message"]


def test_the_quantized_program_is_the_same_for_every_arm_target() -> None:
    """Why one quantize serves U55, U85 and TOSA cells (the pipeline caches it per model and recipe):
    for the shipped CNNs, Arm's quantizer annotates the same graph with the same parameters
    whichever target it is built for."""
    import hashlib

    import torch
    from executorch.backends.arm.ethosu import EthosUCompileSpec
    from executorch.backends.arm.quantizer import EthosUQuantizer, TOSAQuantizer, get_symmetric_quantization_config
    from executorch.backends.arm.tosa.compile_spec import TosaCompileSpec
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from pte_stages.modeling import small_cnn as model_lib

    cfg = model_lib.load_config(MODELS_DIR / "small-cnn-lrn")
    model = model_lib.load_model(MODELS_DIR / "small-cnn-lrn")
    calibration, _ = model_lib.images(cfg, cfg.calibration)
    quantizers = {
        "ethos-u55-128": EthosUQuantizer(EthosUCompileSpec("ethos-u55-128")),
        "ethos-u85-256": EthosUQuantizer(EthosUCompileSpec("ethos-u85-256")),
        "TOSA-1.0+INT": TOSAQuantizer(TosaCompileSpec("TOSA-1.0+INT")),
    }
    digests = {}
    for name, quantizer in quantizers.items():
        quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True))
        program = torch.export.export(model, model_lib.example_input(cfg))
        prepared = prepare_pt2e(program.module(check_guards=False), quantizer)
        with torch.no_grad():
            for image in calibration:
                prepared(image[None])
        converted = convert_pt2e(prepared)
        h = hashlib.sha256(converted.code.encode())
        for key, value in sorted(converted.state_dict().items()):
            h.update(key.encode() + value.numpy().tobytes())
        digests[name] = h.hexdigest()
    assert len(set(digests.values())) == 1, digests
