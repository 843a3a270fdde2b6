"""Export stage: the FP32 model with a static KV cache, through ``torch.export``, saved and verified."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .contract import Spec, run_stage
from .modeling.hf_lm import export_static_cache, load_model, mutable_kv_buffers
from .programs import save_program


def export_to(model: Any, spec: Spec, out: Path, scheme: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """Shared by export and quantize: export, check the cache is mutable, save, reload."""
    program = export_static_cache(model, spec.model.max_seq_len)
    buffers = mutable_kv_buffers(program)
    path = out / "program.pt2"
    saved = save_program(program, path)
    data = {**saved, "max_seq_len": spec.model.max_seq_len, "mutable_buffers": buffers, "scheme": scheme}
    return data, {"program": path}


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    if spec.model.kind == "cnn":
        from .kinds.cnn import export

        return export(spec, out)
    return export_to(load_model(spec.model), spec, out, "fp32")


def main() -> None:
    sys.exit(run_stage("export", run))


if __name__ == "__main__":
    main()
