"""Reference stage: what the gate holds the ``.pte`` to, computed in PyTorch from the eager model.

A decoder LM gives FP32 greedy tokens (and the eager quantized model's, for a quantized recipe); a
CNN gives its top-1 class per evaluation image, FP32 and PT2E-quantized. The halves live in
:mod:`pte_stages.kinds`. They come from the eager model, not from the exported graph, so an export
or lowering bug cannot hide in both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .contract import Spec, run_stage
from .kinds import kind_for


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    return kind_for(spec.model).reference(spec, out)


def main() -> None:
    sys.exit(run_stage("reference", run))


if __name__ == "__main__":
    main()
