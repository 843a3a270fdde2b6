"""Lowering backends, registered by ``kind``: which partitioners run, and what the graph needs first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from .contract import BackendSpec, ConfigError


class Backend(Protocol):
    def partitioners(self, spec: BackendSpec) -> list[Any]: ...
    def prepare(self, program: torch.export.ExportedProgram) -> torch.export.ExportedProgram: ...


@dataclass(frozen=True)
class Xnnpack:
    """XNNPACK delegate. ``per_op_mode`` delegates op by op: no fused subgraphs, but it is the
    documented workaround for aarch64 rejecting fused INT8/INT4 subgraphs (UPSTREAM-ISSUES #1)."""

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner(per_op_mode=spec.per_op_mode)]

    def prepare(self, program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
        return program


@dataclass(frozen=True)
class Portable:
    """No delegate: every operator runs on ExecuTorch's portable kernels.

    The portable library has no out-variants for torchao's affine quantization ops (UPSTREAM-ISSUES
    #6), so they are decomposed into aten arithmetic with torchao's own decompositions first.
    """

    def partitioners(self, spec: BackendSpec) -> list[Any]:
        if spec.per_op_mode:
            raise ConfigError(f"backend {spec.name}: per_op_mode applies to xnnpack only")
        return []

    def prepare(self, program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
        from torch._inductor.decomposition import decompositions

        table = {op: fn for op, fn in decompositions.items() if str(op).startswith("torchao.")}
        uses = any(str(n.target).startswith("torchao.") for n in program.graph.nodes)
        return program.run_decompositions(table) if uses else program


BACKENDS: dict[str, Backend] = {"xnnpack": Xnnpack(), "portable": Portable()}


def backend_for(spec: BackendSpec) -> Backend:
    """The registered backend, or a config error that lists the known kinds."""
    try:
        return BACKENDS[spec.kind]
    except KeyError:
        raise ConfigError(
            f"backend {spec.name}: unknown kind {spec.kind!r}; known kinds: {', '.join(sorted(BACKENDS))}"
        ) from None
