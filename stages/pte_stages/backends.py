"""Lowering backends, registered by ``kind``: which partitioners run, and what the graph needs first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from .contract import BackendSpec, ConfigError


class Backend(Protocol):
    def partitioners(self, spec: BackendSpec) -> list[Any]: ...
    def prepare(self, program: torch.export.ExportedProgram, spec: BackendSpec) -> torch.export.ExportedProgram: ...


@dataclass(frozen=True)
class Xnnpack:
    """XNNPACK delegate. ``per_op_mode`` delegates op by op: no fused subgraphs, but it is the
    documented workaround for aarch64 rejecting fused INT8/INT4 subgraphs (UPSTREAM-ISSUES #1)."""

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner(per_op_mode=spec.per_op_mode)]

    def prepare(self, program: torch.export.ExportedProgram, spec: BackendSpec) -> torch.export.ExportedProgram:
        return program


@dataclass(frozen=True)
class Portable:
    """No delegate: every operator runs on ExecuTorch's portable kernels.

    The portable library has no out-variants for torchao's affine quantization ops (UPSTREAM-ISSUES
    #6), so they are decomposed into aten arithmetic with torchao's own decompositions first,
    unless the backend says ``decompose_affine: false`` (the canary that shows #6 still there).
    """

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        _no_per_op(spec)
        return []

    def prepare(self, program: torch.export.ExportedProgram, spec: BackendSpec) -> torch.export.ExportedProgram:
        if not spec.decompose_affine:
            return program
        from torch._inductor.decomposition import decompositions

        table = {op: fn for op, fn in decompositions.items() if str(op).startswith("torchao.")}
        uses = any(str(n.target).startswith("torchao.") for n in program.graph.nodes)
        return program.run_decompositions(table) if uses else program


ARM_KINDS = ("ethos-u", "tosa")
ETHOS_U_TARGETS = ("ethos-u55-128", "ethos-u85-256")
TOSA_PROFILES = ("TOSA-1.0+INT",)


def check_quantized(spec: BackendSpec, program: torch.export.ExportedProgram) -> None:
    """The Arm backends delegate only INT8 q/dq graphs: refuse an FP32 program, which would lower to nothing."""
    if spec.kind in ARM_KINDS and not any("quantize_per_tensor" in str(n.target) for n in program.graph.nodes):
        raise ConfigError(
            f"backend {spec.name}: the program is not INT8-quantized (no quantize_per_tensor nodes); "
            "pair it with a pt2e-int8 recipe (ethos-u-int8 in matrix/farm.yml)"
        )


def _no_per_op(spec: BackendSpec) -> None:
    if spec.per_op_mode:
        raise ConfigError(f"backend {spec.name}: per_op_mode applies to xnnpack only")


def _cpu_qdq_kernels() -> None:
    """The input quantize and output dequantize stay on the CPU; ``to_executorch`` needs their
    out-variants, which ``executorch.kernels.quantized`` registers (Arm's quantizer package imports
    it as a side effect; a lower stage that only loads a saved program must do it itself)."""
    import executorch.kernels.quantized  # noqa: F401


@dataclass(frozen=True)
class EthosU:
    """Arm Ethos-U NPU: ``EthosUPartitioner`` lowers the supported INT8 subgraphs to TOSA and Vela
    compiles each into a command stream for ``target``; whatever it cannot take stays on the
    Cortex-M CPU. Vela's defaults (system config, memory mode) follow the target, as in Arm's flow."""

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        from executorch.backends.arm.ethosu import EthosUCompileSpec, EthosUPartitioner

        _no_per_op(spec)
        _cpu_qdq_kernels()
        if spec.target not in ETHOS_U_TARGETS:
            raise ConfigError(
                f"backend {spec.name}: target must be one of {list(ETHOS_U_TARGETS)}, got {spec.target!r}"
            )
        return [EthosUPartitioner(EthosUCompileSpec(spec.target))]

    def prepare(self, program: torch.export.ExportedProgram, spec: BackendSpec) -> torch.export.ExportedProgram:
        return program


@dataclass(frozen=True)
class Tosa:
    """TOSA: the same partitioning as Ethos-U, serialised as TOSA flatbuffers instead of compiled
    by Vela, so the lowered INT8 graph runs on the TOSA reference model on any host
    (:mod:`pte_stages.tosa_runtime`)."""

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        from executorch.backends.arm.tosa.compile_spec import TosaCompileSpec
        from executorch.backends.arm.tosa.partitioner import TOSAPartitioner

        _no_per_op(spec)
        _cpu_qdq_kernels()
        if spec.profile not in TOSA_PROFILES:
            raise ConfigError(
                f"backend {spec.name}: profile must be one of {list(TOSA_PROFILES)}, got {spec.profile!r}"
            )
        return [TOSAPartitioner(TosaCompileSpec(spec.profile))]

    def prepare(self, program: torch.export.ExportedProgram, spec: BackendSpec) -> torch.export.ExportedProgram:
        return program


BACKENDS: dict[str, Backend] = {"xnnpack": Xnnpack(), "portable": Portable(), "ethos-u": EthosU(), "tosa": Tosa()}


def backend_for(spec: BackendSpec) -> Backend:
    """The registered backend, or a config error that lists the known kinds."""
    try:
        return BACKENDS[spec.kind]
    except KeyError:
        raise ConfigError(
            f"backend {spec.name}: unknown kind {spec.kind!r}; known kinds: {', '.join(sorted(BACKENDS))}"
        ) from None
