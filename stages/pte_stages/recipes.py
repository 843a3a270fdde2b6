"""Quantization recipes, registered by ``scheme`` name.

torchao quantizes eager modules (a source transform on ``nn.Linear``), so a quantized recipe is
applied to the model before it is exported; the quantize stage re-exports it the same way the
export stage does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from .backends import ETHOS_U_TARGETS
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


@dataclass(frozen=True)
class Int4WeightOnly:
    """int4wo: torchao's ``Int4WeightOnlyConfig`` (INT4 weights in groups, activations in FP32).

    It is the recipe users reach for first, and the path torchao moved to CUDA/MSLK kernels in
    0.17 (UPSTREAM-ISSUES #5): on a CPU-only toolchain it fails when applied. The farm keeps it as
    the canary for that issue (matrix/farm.yml ``canaries``), so the day a release makes it work on
    CPU again the canary says so.
    """

    quantized: bool = True
    group_sizes: tuple[int, ...] = (32, 64, 128, 256)

    def check(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        Int8DynActInt4Weight(group_sizes=self.group_sizes).check(spec, model)

    def apply(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        from torchao.quantization import Int4WeightOnlyConfig, quantize_

        quantize_(model, Int4WeightOnlyConfig(group_size=spec.group_size))


@dataclass(frozen=True)
class Pt2eInt8:
    """Static INT8 with PT2E and Arm's quantizer, for the Ethos-U / TOSA backends (CNN models).

    Unlike the torchao recipes it quantizes an exported graph, not eager modules: ``prepare_pt2e``
    with ``EthosUQuantizer`` and ``get_symmetric_quantization_config`` (symmetric INT8 weights,
    per channel by default; affine INT8 activations), calibration, ``convert_pt2e``
    (:mod:`pte_stages.pt2e`). The quantizer is built for one Ethos-U ``target`` (param, default the
    most restrictive, ``ethos-u55-128``) and its program serves every Arm backend of the cell set:
    for the shipped CNNs the quantized program is the same for U55, U85 and TOSA-1.0+INT (a test
    pins that), which is what lets the pipeline quantize once per model and recipe.
    """

    quantized: bool = True
    params: tuple[str, ...] = ("symmetric", "per_channel", "target")

    def check(self, spec: RecipeSpec, model: torch.nn.Module | None = None) -> None:
        unknown = sorted(set(spec.params) - set(self.params))
        if unknown or spec.group_size is not None:
            extra = unknown + (["group_size"] if spec.group_size is not None else [])
            raise ConfigError(f"recipe {spec.name}: unknown params {extra}; pt2e-int8 takes {list(self.params)}")
        if spec.params.get("symmetric", True) is not True:
            raise ConfigError(f"recipe {spec.name}: Arm's INT8 quantization is symmetric; set symmetric: true")
        if not isinstance(spec.params.get("per_channel", True), bool):
            raise ConfigError(f"recipe {spec.name}: per_channel must be true or false")
        if self.target(spec) not in ETHOS_U_TARGETS:
            raise ConfigError(
                f"recipe {spec.name}: target must be one of {list(ETHOS_U_TARGETS)}, got {self.target(spec)!r}"
            )

    def apply(self, spec: RecipeSpec, model: torch.nn.Module) -> None:
        raise ConfigError(
            f"recipe {spec.name}: pt2e-int8 quantizes an exported CNN graph for the Arm backends; "
            "it does not apply to a decoder LM (use fp32 or 8da4w)"
        )

    def target(self, spec: RecipeSpec) -> str:
        return str(spec.params.get("target", "ethos-u55-128"))

    def per_channel(self, spec: RecipeSpec) -> bool:
        return bool(spec.params.get("per_channel", True))


RECIPES: dict[str, Recipe] = {
    "fp32": Fp32(),
    "8da4w": Int8DynActInt4Weight(),
    "int4wo": Int4WeightOnly(),
    "pt2e-int8": Pt2eInt8(),
}


def recipe_for(spec: RecipeSpec) -> Recipe:
    """The registered recipe, or a config error that lists the known schemes."""
    try:
        return RECIPES[spec.scheme]
    except KeyError:
        raise ConfigError(
            f"recipe {spec.name}: unknown scheme {spec.scheme!r}; known schemes: {', '.join(sorted(RECIPES))}"
        ) from None
