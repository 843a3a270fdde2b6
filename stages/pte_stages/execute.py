"""Execute stage: the ``.pte`` run on this host, warm-up plus N measured reps.

Before anything runs, the ``.pte`` must match its manifest's sha256 and this machine's torch and
executorch must equal the build's (:func:`pte_stages.runtime.load_checked`). A decoder LM runs on
ExecuTorch's Python runtime (decode speed, base and head interleaved when both are given); a CNN's
TOSA ``.pte`` on the TOSA reference model (:mod:`pte_stages.kinds`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .contract import Spec, run_stage
from .kinds import kind_for


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    return kind_for(spec.model).execute(spec, out)


def main() -> None:
    sys.exit(run_stage("execute", run))


if __name__ == "__main__":
    main()
