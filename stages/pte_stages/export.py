"""Export stage: the FP32 model through ``torch.export``, saved and verified by reloading.

A decoder LM is exported with a static KV cache and a dynamic sequence length, a CNN with static
shapes (:mod:`pte_stages.kinds`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .contract import Spec, run_stage
from .kinds import kind_for


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    return kind_for(spec.model).export(spec, out)


def main() -> None:
    sys.exit(run_stage("export", run))


if __name__ == "__main__":
    main()
