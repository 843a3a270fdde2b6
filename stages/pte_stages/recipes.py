"""Quantization recipes, registered by ``scheme`` name.

torchao quantizes eager modules (a source transform on ``nn.Linear``), so a quantized recipe is
applied to the model before it is exported; the quantize stage re-exports it the same way the
export stage does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from .contract import ConfigError, RecipeSpec


class Recipe(Protocol):
    @property
    def quantized(self) -> bool: ...

    def check(self, spec: RecipeSpec, model: torch.nn.Module) -> None: ...
    def apply(self, spec: RecipeSpec, model: torch.nn.Module) -> None: ...


@dataclass(frozen=True)
class Fp32:
    """No quantization: the exported FP32 program goes to lowering unchanged."""

    quantized: bool = False

    def check(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        if spec.group_size is not None:
            raise ConfigError(f"recipe {spec.name}: fp32 takes no group_size")

    def apply(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        return None


@dataclass(frozen=True)
class Int8DynActInt4Weight:
    """8da4w: INT8 dynamic per-token activations, INT4 symmetric weights in groups along K.

    torchao's ``Int8DynamicActivationIntxWeightConfig`` is the CPU path that survived torchao 0.17
    (``int4_weight_only`` needs CUDA kernels now: UPSTREAM-ISSUES #5). Embeddings stay FP32, since
    torchao's quantized embedding has no ExecuTorch out-variants (#6).
    """

    quantized: bool = True
    group_sizes: tuple[int, ...] = (32, 64, 128, 256)

    def check(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        if spec.group_size not in self.group_sizes:
            raise ConfigError(
                f"recipe {spec.name}: group_size must be one of {list(self.group_sizes)}, got {spec.group_size!r}"
            )
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and mod.in_features % spec.group_size:
                raise ConfigError(
                    f"recipe {spec.name}: group_size {spec.group_size} does not divide "
                    f"{name}.in_features={mod.in_features}; pick a group size that divides it"
                )

    def apply(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
        from torchao.quantization.granularity import PerGroup

        assert spec.group_size is not None
        config = Int8DynamicActivationIntxWeightConfig(
            weight_dtype=torch.int4,  # type: ignore[attr-defined]  # torch has int4; its stubs do not
            weight_granularity=PerGroup(spec.group_size),
        )
        quantize_(model, config)


RECIPES: dict[str, Recipe] = {"fp32": Fp32(), "8da4w": Int8DynActInt4Weight()}


def recipe_for(spec: RecipeSpec) -> Recipe:
    """The registered recipe, or a config error that lists the known schemes."""
    try:
        return RECIPES[spec.scheme]
    except KeyError:
        raise ConfigError(
            f"recipe {spec.name}: unknown scheme {spec.scheme!r}; known schemes: {', '.join(sorted(RECIPES))}"
        ) from None
