"""PT2E static INT8 quantization with Arm's quantizer: prepare → calibrate → convert.

Shared by the reference stage (which runs the converted model in PyTorch: the quantized reference
the lowered graph is held to) and the quantize stage (which exports it for lowering), so both see
the same quantization parameters: observers are deterministic given the same graph and the same
calibration images.
"""

from __future__ import annotations

from typing import Any

import torch

from .contract import RecipeSpec
from .recipes import Pt2eInt8, recipe_for


def quantizer(spec: RecipeSpec) -> Any:
    """``EthosUQuantizer`` for the recipe's target with Arm's symmetric INT8 config, set globally."""
    from executorch.backends.arm.ethosu import EthosUCompileSpec
    from executorch.backends.arm.quantizer import EthosUQuantizer, get_symmetric_quantization_config

    recipe = recipe_for(spec)
    assert isinstance(recipe, Pt2eInt8)
    recipe.check(spec)
    q = EthosUQuantizer(EthosUCompileSpec(recipe.target(spec)))
    q.set_global(get_symmetric_quantization_config(is_per_channel=recipe.per_channel(spec)))
    return q


def quantize(program: torch.export.ExportedProgram, spec: RecipeSpec, calibration: torch.Tensor) -> Any:
    """The converted (Q/DQ) GraphModule; ``calibration`` is ``[N, C, H, W]``, fed one image at a time
    as the exported batch-1 graph expects."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    # Guards would re-check the export's example shapes as a submodule call, which Arm's
    # annotation passes cannot trace (ExecuTorch's Ethos-U example turns them off the same way).
    prepared = prepare_pt2e(program.module(check_guards=False), quantizer(spec))
    with torch.no_grad():
        for image in calibration:
            prepared(image[None])
    return convert_pt2e(prepared)


def output_qparams(module: Any) -> tuple[float, int]:
    """Scale and zero point of the model's output: the ``dequantize_per_tensor`` feeding ``output``.

    The gate compares outputs in these units (quanta), the integers the NPU actually produced.
    """
    out = next(n for n in module.graph.nodes if n.op == "output")
    node = out.args[0][0] if isinstance(out.args[0], (list, tuple)) else out.args[0]
    if "dequantize_per_tensor" not in str(node.target):
        raise ValueError(f"the quantized model's output comes from {node.target}, not a dequantize_per_tensor")
    scale, zero_point = node.args[1], node.args[2]
    if isinstance(scale, torch.fx.Node) or isinstance(zero_point, torch.fx.Node):
        raise ValueError("the output's quantization parameters are not constants")
    return float(scale), int(zero_point)


def to_quanta(values: torch.Tensor, scale: float, zero_point: int) -> list[int]:
    """Dequantized outputs back to their INT8 codes (exact: they were ``(q - zp) * scale``)."""
    return [int(v) for v in torch.round(values.flatten() / scale + zero_point).to(torch.int64)]
