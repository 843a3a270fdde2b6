"""Quantize stage: the recipe applied, giving the program that lowering takes.

``fp32`` passes the export's program through. A decoder LM's torchao recipes transform eager
``nn.Linear`` modules, so the model is quantized and exported again; a CNN's PT2E recipe quantizes
the export's program (:mod:`pte_stages.kinds`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .contract import Spec, run_stage
from .kinds import kind_for


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    return kind_for(spec.model).quantize(spec, out)


def main() -> None:
    sys.exit(run_stage("quantize", run))


if __name__ == "__main__":
    main()
