"""Quantize stage: the recipe applied, giving the program that lowering takes.

``fp32`` passes the export's program through. torchao recipes transform eager ``nn.Linear``
modules, so a quantized recipe loads the model, quantizes it and exports it the same way the
export stage does; the export's program is still an input, and its input signature must match.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from .contract import Spec, StageError, run_stage, sha256_file
from .export import export_to
from .modeling.hf_lm import load_model
from .programs import load_program
from .recipes import recipe_for


def _user_inputs(path: Path) -> int:
    return sum(s.kind.name == "USER_INPUT" for s in load_program(path).graph_signature.input_specs)


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    if spec.model.kind == "cnn":
        from .kinds.cnn import quantize

        return quantize(spec, out)
    recipe = recipe_for(spec.recipe)
    source = spec.input("program")
    path = out / "program.pt2"
    if not recipe.quantized:
        shutil.copyfile(source, path)
        data = {
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            "max_seq_len": spec.model.max_seq_len,
            "mutable_buffers": None,
            "scheme": spec.recipe.scheme,
        }
        return data, {"program": path}
    model = load_model(spec.model)
    recipe.check(spec.recipe, model)
    recipe.apply(spec.recipe, model)
    data, files = export_to(model, spec, out, spec.recipe.scheme)
    fp32_inputs, q_inputs = (_user_inputs(p) for p in (source, files["program"]))
    if fp32_inputs != q_inputs:
        raise StageError(f"the quantized program takes {q_inputs} user inputs, the FP32 export {fp32_inputs}")
    return data, files


def main() -> None:
    sys.exit(run_stage("quantize", run))


if __name__ == "__main__":
    main()
