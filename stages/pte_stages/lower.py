"""Lower stage: an exported program to a ``.pte`` for one backend, with its manifest.

The manifest says exactly what the ``.pte`` is (hashes, toolchain, delegation) so that a device
can refuse a file it would otherwise fail on with a cryptic backend error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .backends import backend_for
from .contract import Spec, run_stage, sha256_file, toolchain_versions, write_json_atomic
from .model import load_program

MANIFEST_SCHEMA = "pte-farm/manifest@1"
_BOOKKEEPING = ("getitem", "sym_size", "alloc", "view", "executorch_call_delegate")


def delegation(graph_module: Any, backend: str) -> dict[str, Any]:
    """Delegated subgraphs and ops, and the operators left on the CPU (portable kernels)."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    names = (getattr(n.target, "__name__", str(n.target)) for n in graph_module.graph.nodes if n.op == "call_function")
    cpu = Counter(name for name in names if not any(k in name for k in _BOOKKEEPING))
    return {
        "backend": backend,
        "delegated_subgraphs": int(info.num_delegated_subgraphs),
        "delegated_ops": int(info.num_delegated_nodes),
        "cpu_ops": dict(sorted(cpu.items())),
    }


def lower(program: Any, spec: Spec) -> tuple[Any, dict[str, Any]]:
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass
    from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

    backend = backend_for(spec.backend)
    partitioners = backend.partitioners(spec.backend)
    edge = to_edge_transform_and_lower(
        backend.prepare(program),
        partitioner=partitioners,
        compile_config=EdgeCompileConfig(_check_ir_validity=False),
    )
    stats = delegation(edge.exported_program().graph_module, spec.backend.name)
    # The same back-end config ExecuTorch's LLM export uses: the KV cache and inputs are planned
    # by the runtime, and dynamic shapes are bounded by their constraints.
    et = edge.to_executorch(
        ExecutorchBackendConfig(
            extract_delegate_segments=True,
            do_quant_fusion_and_const_prop=True,
            memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False),
            sym_shape_eval_pass=ConstraintBasedSymShapeEvalPass(),
        )
    )
    return et, stats


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    source = spec.input("program")
    et, stats = lower(load_program(source), spec)
    pte = out / "model.pte"
    partial = out / "model.pte.partial"
    with partial.open("wb") as f:
        et.write_to_file(f)
    partial.replace(pte)
    config = json.loads((spec.model.path / "config.json").read_text())
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "cell": {**spec.cell.__dict__, "id": spec.cell.id},
        "pte": {"file": pte.name, "sha256": sha256_file(pte), "bytes": pte.stat().st_size},
        "program": {"sha256": sha256_file(source)},
        "toolchain": toolchain_versions(),
        "delegation": stats,
        "model": {
            "id": spec.model.id,
            "max_seq_len": spec.model.max_seq_len,
            "vocab_size": config.get("vocab_size"),
            "eos_token_id": config.get("eos_token_id"),
        },
        "recipe": spec.recipe.__dict__,
        "backend": spec.backend.__dict__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    write_json_atomic(out / "manifest.json", manifest)
    return stats, {"pte": pte, "manifest": out / "manifest.json"}


def main() -> None:
    sys.exit(run_stage("lower", run))


if __name__ == "__main__":
    main()
