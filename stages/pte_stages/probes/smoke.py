"""The health check's smoke ``.pte``: a two-operator module, built once and run on every check.

Why a model this small: the health check must say, in seconds, whether this machine's ExecuTorch
runtime loads a program and computes with it. A mismatch or a crash here means any benchmark on
the board would measure a broken runtime, so the check fails before a real cell runs.

    python -m pte_stages.probes.smoke build --out DIR   # DIR/smoke.pte and DIR/smoke.json (inputs, eager outputs)
    python -m pte_stages.probes.smoke run --dir DIR     # loads DIR/smoke.pte with the Python runtime, compares

``run`` prints one JSON object on stdout and exits 0 when the outputs match the eager ones exactly
(an add and a multiply of small integers stored as floats have one right answer), 1 otherwise.
The orchestrator caches ``build``'s folder by content hash (actions/src/health/smoke.ts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

SMOKE_SCHEMA = "pte-farm/smoke@1"
# Small integers: every sum and product is exact in float32, so "equal" is the right comparison.
INPUTS = ([[1.0, 2.0, 3.0, 4.0]], [[0.5, -1.0, 2.0, 8.0]])


def _module() -> Any:
    import torch

    class AddMul(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return (x + y) * y

    return AddMul().eval()


def build(out: Path) -> dict[str, Any]:
    """Exports, lowers (portable kernels, no delegate) and saves the module; returns smoke.json."""
    import torch
    from executorch.exir import to_edge_transform_and_lower

    out.mkdir(parents=True, exist_ok=True)
    module = _module()
    inputs = tuple(torch.tensor(v) for v in INPUTS)
    with torch.no_grad():
        expected = module(*inputs)
    program = to_edge_transform_and_lower(torch.export.export(module, inputs)).to_executorch()
    pte = out / "smoke.pte"
    pte.write_bytes(program.buffer)
    meta = {
        "schema": SMOKE_SCHEMA,
        "pte": pte.name,
        "pte_sha256": hashlib.sha256(pte.read_bytes()).hexdigest(),
        "inputs": [list(v) for v in INPUTS],
        "expected": expected.tolist(),
        "ops": ["aten.add.Tensor", "aten.mul.Tensor"],
    }
    (out / "smoke.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def run(folder: Path) -> dict[str, Any]:
    """Loads the built ``.pte`` through ExecuTorch's Python runtime and compares with the eager outputs."""
    import torch

    from ..runtime import executorch_runtime

    meta = json.loads((folder / "smoke.json").read_text())
    started = time.perf_counter()
    method = executorch_runtime().get().load_program(folder / meta["pte"]).load_method("forward")
    loaded = time.perf_counter()
    outputs = method.execute([torch.tensor(v) for v in meta["inputs"]])
    done = time.perf_counter()
    actual = outputs[0].tolist()
    return {
        "schema": SMOKE_SCHEMA,
        "ok": actual == meta["expected"],
        "pte_sha256": meta["pte_sha256"],
        "expected": meta["expected"],
        "actual": actual,
        "load_ms": round((loaded - started) * 1000, 3),
        "execute_ms": round((done - loaded) * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pte_stages.probes.smoke", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="export and lower the smoke module").add_argument("--out", type=Path, required=True)
    sub.add_parser("run", help="run a built smoke .pte and check its output").add_argument(
        "--dir", type=Path, required=True
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.out)))
        return 0
    result = run(args.dir)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
