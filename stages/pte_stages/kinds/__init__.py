"""Model kinds, registered by name (``spec.model.kind``): what each stage does differently for a
decoder LM and for a CNN, in one place per kind instead of a ``kind == "cnn"`` switch per stage.

A stage module looks the kind up with :func:`kind_for` and calls its half of the stage; what is the
same for every kind (the contract, lowering, the manifest) stays in the stage module. The kind
itself is decided by the model folder when the spec is parsed (:func:`pte_stages.contract.parse_spec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from ..contract import ConfigError, ModelSpec, Spec
from .cnn import Cnn
from .lm import DecoderLm

StageOutput = tuple[dict[str, Any], dict[str, Path]]


class ModelKind(Protocol):
    """The stages' kind-specific halves. Each stage method takes the spec and the output folder and
    returns ``(data, artefacts)`` as :func:`pte_stages.contract.run_stage` expects."""

    def reference(self, spec: Spec, out: Path) -> StageOutput: ...
    def export(self, spec: Spec, out: Path) -> StageOutput: ...
    def quantize(self, spec: Spec, out: Path) -> StageOutput: ...
    def execute(self, spec: Spec, out: Path) -> StageOutput: ...

    def constant_methods(self, spec: Spec, program: torch.export.ExportedProgram) -> dict[str, Any] | None:
        """Constant methods to write into the ``.pte`` (lower), or None."""
        ...

    def manifest_model(self, spec: Spec, config: dict[str, Any]) -> dict[str, Any]:
        """The manifest's ``model`` block, from the spec and the folder's ``config.json``."""
        ...

    def bundle_cases(
        self, spec: Spec, program: torch.export.ExportedProgram
    ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """(input, expected output) pairs for an Ethos-U build's ``.bpte``, or None for no bundle.
        Called before lowering, on the quantize stage's program."""
        ...


KINDS: dict[str, ModelKind] = {"decoder-lm": DecoderLm(), "cnn": Cnn()}


def kind_for(spec: ModelSpec) -> ModelKind:
    """The registered kind, or a config error that lists the known kinds."""
    try:
        return KINDS[spec.kind]
    except KeyError:
        raise ConfigError(
            f"model {spec.id}: unknown kind {spec.kind!r}; known kinds: {', '.join(sorted(KINDS))}"
        ) from None
