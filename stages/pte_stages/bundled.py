"""Bundled programs (``.bpte``): the ``.pte`` plus test inputs and the outputs they must give.

ExecuTorch's bare-metal executor runner built with ``ET_BUNDLE_IO`` (what runners/corstone-fvp
builds) loads its inputs from the bundle, runs the method and checks the outputs against the
bundle's, printing ``Test_result: PASS`` or ``FAIL``: that is how an Ethos-U build is held to the
PyTorch quantized model on a Corstone FVP, where nothing else reads the outputs. As Arm's
aot_arm_compiler.py ``--bundleio`` does, the expected outputs are the quantized model's, run in
PyTorch, so the check measures the lowering, not the quantization.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .contract import Spec, sha256_file
from .modeling import small_cnn

METHOD = "forward"


def cnn_test_cases(spec: Spec, program: torch.export.ExportedProgram) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, expected output) for each of the CNN's evaluation images (the set the reference and
    execute stages use), the expected output from ``program`` (the quantize stage's INT8 graph).

    Must run before lowering: ``to_edge`` may rewrite the program it is given."""
    cfg = small_cnn.load_config(spec.model.path)
    images, _ = small_cnn.images(cfg, cfg.eval)
    module = program.module()
    with torch.no_grad():
        return [(image[None], module(image[None])) for image in images]


def write_bpte(et: Any, cases: list[tuple[torch.Tensor, torch.Tensor]], path: Path) -> dict[str, Any]:
    """The bundle of ``et`` (an ``ExecutorchProgramManager``; its program bytes are the ``.pte``'s)
    and ``cases``, written atomically; returns its manifest block. The runner checks test case 0."""
    from executorch.devtools.bundled_program.config import MethodTestCase, MethodTestSuite
    from executorch.devtools.bundled_program.core import BundledProgram
    from executorch.devtools.bundled_program.serialize import serialize_from_bundled_program_to_flatbuffer

    suite = MethodTestSuite(
        method_name=METHOD,
        test_cases=[MethodTestCase(inputs=(x,), expected_outputs=(y,)) for x, y in cases],
    )
    # BundledProgram checks each case's inputs and outputs against the method's signature.
    data = serialize_from_bundled_program_to_flatbuffer(BundledProgram(et, [suite]))
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "method": METHOD,
        "test_cases": len(cases),
    }
