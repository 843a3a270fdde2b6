"""Lower stage: an exported program to a ``.pte`` for one backend, with its manifest.

The manifest says exactly what the ``.pte`` is (hashes, toolchain, delegation) so that a device
can refuse a file it would otherwise fail on with a cryptic backend error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from .backends import ARM_KINDS, backend_for, check_quantized
from .bundled import write_bpte
from .contract import (
    ARM_TOOLCHAIN_PACKAGES,
    InfraError,
    Spec,
    run_stage,
    sha256_file,
    toolchain_versions,
    write_json_atomic,
)
from .delegation import delegation, fragmentation
from .kinds import kind_for
from .programs import load_program

MANIFEST_SCHEMA = "pte-farm/manifest@1"


def lower(program: Any, spec: Spec, partitioners: list[Any]) -> tuple[Any, dict[str, Any]]:
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass
    from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

    backend = backend_for(spec.backend)
    check_quantized(spec.backend, program)
    # A decoder LM carries the metadata methods ExecuTorch's C++ LLM runner reads; a CNN has none.
    methods = kind_for(spec.model).constant_methods(spec, program)
    edge = to_edge_transform_and_lower(
        backend.prepare(program, spec.backend),
        partitioner=partitioners,
        compile_config=EdgeCompileConfig(_check_ir_validity=False),
        constant_methods=methods,
    )
    stats = delegation(edge.exported_program().graph_module, spec.backend.name)
    if spec.backend.kind in ARM_KINDS:
        # As Arm's Ethos-U flow writes it (backends/arm/scripts/aot_arm_compiler.py): static shapes,
        # inputs planned in the .pte, delegate payloads inline for the bare-metal runner.
        return edge.to_executorch(ExecutorchBackendConfig(extract_delegate_segments=False)), stats
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


def _model_block(spec: Spec) -> dict[str, Any]:
    config = json.loads((spec.model.path / "config.json").read_text())
    return kind_for(spec.model).manifest_model(spec, config)


def _fragmentation(spec: Spec, stats: dict[str, Any]) -> dict[str, Any] | None:
    """Against ``inputs.base_manifest`` (OPTIONAL: the base's lower output), or None without one."""
    if "base_manifest" not in spec.inputs:
        return None
    path = spec.input("base_manifest")
    try:
        base = json.loads(path.read_text())["delegation"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InfraError(f"base manifest {path} has no readable delegation block: {exc!r}") from exc
    report = fragmentation(base, stats)
    if report["alarm"]:
        print(f"[pte-farm] FRAGMENTATION ALARM: {report['message']}", file=sys.stderr)
    return report


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    source = spec.input("program")
    # The backend's options are checked before the program is loaded: a typo fails in a second.
    partitioners = backend_for(spec.backend).partitioners(spec.backend)
    program = load_program(source)
    # An Ethos-U .pte runs on a Corstone FVP under the BundleIO executor runner, which takes a
    # .bpte: the same program with test inputs and the quantized model's outputs for them (a CNN's).
    cases = kind_for(spec.model).bundle_cases(spec, program) if spec.backend.kind == "ethos-u" else None
    et, stats = lower(program, spec, partitioners)
    pte = out / "model.pte"
    partial = out / "model.pte.partial"
    with partial.open("wb") as f:
        et.write_to_file(f)
    partial.replace(pte)
    artefacts = {"pte": pte, "manifest": out / "manifest.json"}
    bpte = write_bpte(et, cases, out / "model.bpte") if cases is not None else None
    if bpte is not None:
        artefacts["bpte"] = out / bpte["file"]
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "cell": {**spec.cell.__dict__, "id": spec.cell.id},
        "pte": {"file": pte.name, "sha256": sha256_file(pte), "bytes": pte.stat().st_size},
        # OPTIONAL (Ethos-U builds only): the bundled program beside the .pte, for the FVP's runner.
        **({} if bpte is None else {"bpte": bpte}),
        "program": {"sha256": sha256_file(source)},
        "toolchain": toolchain_versions(ARM_TOOLCHAIN_PACKAGES if spec.backend.kind in ARM_KINDS else ()),
        "delegation": stats,
        "model": _model_block(spec),
        "recipe": spec.recipe.manifest(),
        "backend": spec.backend.__dict__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    write_json_atomic(out / "manifest.json", manifest)
    report = _fragmentation(spec, stats)
    data = stats if report is None else {**stats, "fragmentation": report}
    return data, artefacts


def main() -> None:
    sys.exit(run_stage("lower", run))


if __name__ == "__main__":
    main()
