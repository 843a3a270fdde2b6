"""The CNN halves of the reference, export, quantize and execute stages (the Ethos-U path).

The stage contract is the LM's, read for a classifier: a "prompt" is an evaluation image (its
``prompt_ids`` are ``[i]``, the image's index in the model's deterministic evaluation set), and
the "generated tokens" are one: the top-1 class. So the token gate is a top-1 gate. On top, the
quantized reference and execute carry ``output_q``, the output logits as INT8 codes (quanta of
the output's scale), and the gate bounds their difference (stages/README.md, "CNN models").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..bundled import cnn_test_cases
from ..contract import ConfigError, Spec, StageError
from ..modeling import small_cnn
from ..programs import load_program, save_program
from ..pt2e import output_qparams, to_quanta
from ..pt2e import quantize as pt2e_quantize
from ..recipes import Pt2eInt8, recipe_for
from ..runtime import load_checked, peak_rss_mb
from ..tosa_runtime import TosaProgram

PT2E_SCHEME = "pt2e-int8"


def _recipe(spec: Spec) -> Pt2eInt8:
    recipe = recipe_for(spec.recipe)
    if not isinstance(recipe, Pt2eInt8):
        raise ConfigError(
            f"model {spec.model.id} is a CNN: its recipes use scheme {PT2E_SCHEME!r} (Arm's PT2E INT8), "
            f"got {spec.recipe.scheme!r} from recipe {spec.recipe.name}"
        )
    recipe.check(spec.recipe)
    return recipe


def _config(spec: Spec) -> small_cnn.CnnConfig:
    cfg = small_cnn.load_config(spec.model.path)
    if spec.model.input_shape is not None and tuple(spec.model.input_shape) != cfg.input_shape:
        raise ConfigError(
            f"model {spec.model.id}: the matrix says input_shape {list(spec.model.input_shape)} but "
            f"{spec.model.path / 'config.json'} says {list(cfg.input_shape)}; make them agree"
        )
    return cfg


def _program_data(scheme: str, saved: dict[str, Any]) -> dict[str, Any]:
    return {**saved, "max_seq_len": 0, "mutable_buffers": None, "scheme": scheme}


def _export(model: Any, cfg: small_cnn.CnnConfig) -> torch.export.ExportedProgram:
    with torch.no_grad():
        return torch.export.export(model, small_cnn.example_input(cfg), strict=True)


def _top1(logits: torch.Tensor, cfg: small_cnn.CnnConfig) -> dict[str, Any]:
    top = int(logits.argmax())
    return {"ids": [top], "pieces": [cfg.labels[top]], "min_margin": round(small_cnn.top2_margin(logits), 4)}


def _eval_images(spec: Spec, cfg: small_cnn.CnnConfig) -> tuple[list[int], torch.Tensor]:
    images, _ = small_cnn.images(cfg, cfg.eval)
    picks = []
    for ids in spec.execute.prompt_ids:
        if len(ids) != 1 or not 0 <= ids[0] < len(images):
            raise ConfigError(
                "spec.execute.prompt_ids: a CNN prompt is [i], the index of an evaluation image "
                f"(below {len(images)}); got {list(ids)}"
            )
        picks.append(ids[0])
    if not picks:
        raise StageError("spec.execute.prompt_ids is empty: run the reference stage first")
    return picks, images


@dataclass(frozen=True)
class Cnn:
    """A pte-farm CNN folder (``cnn``; :mod:`pte_stages.modeling.small_cnn`), for the Arm backends."""

    def reference(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """FP32 eager top-1 per evaluation image, and the PT2E-quantized model's (run in PyTorch)."""
        _recipe(spec)
        cfg = _config(spec)
        model = small_cnn.load_model(spec.model.path)
        images, labels = small_cnn.images(cfg, cfg.eval)
        calibration, _ = small_cnn.images(cfg, cfg.calibration)
        converted = pt2e_quantize(_export(model, cfg), spec.recipe, calibration)
        scale, zero_point = output_qparams(converted)
        prompts: list[dict[str, Any]] = []
        with torch.no_grad():
            for i, image in enumerate(images):
                fp32 = model(image[None])[0]
                q = converted(image[None])[0]
                prompts.append(
                    {
                        "prompt": f"eval image {i} ({cfg.labels[int(labels[i])]})",
                        "prompt_ids": [i],
                        "fp32": _top1(fp32, cfg),
                        "quantized": {**_top1(q, cfg), "output_q": to_quanta(q, scale, zero_point)},
                    }
                )
        correct = {
            k: sum(p[k]["ids"][0] == int(labels[i]) for i, p in enumerate(prompts)) for k in ("fp32", "quantized")
        }
        data = {
            "prompts": prompts,
            "output_quantization": {"scale": scale, "zero_point": zero_point},
            "correct": {k: f"{v}/{len(prompts)}" for k, v in correct.items()},
        }
        return data, {}

    def export(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """The FP32 CNN through ``torch.export`` (static shapes), saved and reloaded to verify."""
        cfg = _config(spec)
        path = out / "program.pt2"
        saved = save_program(_export(small_cnn.load_model(spec.model.path), cfg), path)
        return _program_data("fp32", saved), {"program": path}

    def quantize(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """The export's program through PT2E (prepare → calibrate → convert), exported again."""
        _recipe(spec)
        cfg = _config(spec)
        calibration, _ = small_cnn.images(cfg, cfg.calibration)
        converted = pt2e_quantize(load_program(spec.input("program")), spec.recipe, calibration)
        with torch.no_grad():
            program = torch.export.export(converted, small_cnn.example_input(cfg), strict=True)
        path = out / "program.pt2"
        saved = save_program(program, path)
        return _program_data(spec.recipe.scheme, saved), {"program": path}

    def execute(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """The TOSA ``.pte`` on the TOSA reference model: warm-up plus ``reps`` passes over the images."""
        if spec.backend.kind != "tosa":
            raise ConfigError(
                f"backend {spec.backend.name} ({spec.backend.kind}): on this host only the tosa backend's .pte runs "
                "(on the TOSA reference model); an Ethos-U .pte runs on a Corstone FVP (driver fvp)"
            )
        if "base_pte" in spec.inputs:
            raise ConfigError("interleaved base/head sessions are for decode speed; a CNN on the TOSA model has none")
        pte, _manifest = load_checked(spec, "pte", "manifest")
        cfg = _config(spec)
        picks, images = _eval_images(spec, cfg)
        first: list[tuple[int, list[int]]] | None = None
        names = ("inference_ms", "tosa_delegate_ms", "model_load_ms", "peak_rss_mb")
        samples: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(spec.execute.warmup + spec.execute.reps):
            t0 = time.perf_counter()
            program = TosaProgram(pte)
            load_ms = (time.perf_counter() - t0) * 1000
            results = []
            delegate_s = total_s = 0.0
            for i in picks:
                t1 = time.perf_counter()
                run = program.run([images[i][None]])
                total_s += time.perf_counter() - t1
                delegate_s += run.delegate_s
                codes = run.output_codes[0]
                if codes is None:
                    raise StageError(
                        "the .pte's output is not produced by a dequantize_per_tensor: no INT8 codes to gate"
                    )
                results.append((int(run.outputs[0].argmax()), [int(c) for c in codes.flatten()]))
            if first is None:
                first = results
            elif results != first:
                raise StageError(f"{pte.name}: a rep produced different outputs than the first: not deterministic")
            if rep >= spec.execute.warmup:
                samples["inference_ms"].append(round(1000 * total_s / len(picks), 4))
                samples["tosa_delegate_ms"].append(round(1000 * delegate_s / len(picks), 4))
                samples["model_load_ms"].append(round(load_ms, 4))
                samples["peak_rss_mb"].append(round(peak_rss_mb(), 4))
        assert first is not None
        metrics = {
            # Host wall time of the TOSA reference model (a functional model): it tracks graph size, not NPU speed.
            "inference_ms": {"unit": "ms", "better": "lower", "samples": samples["inference_ms"]},
            "tosa_delegate_ms": {"unit": "ms", "better": "lower", "samples": samples["tosa_delegate_ms"]},
            "model_load_ms": {"unit": "ms", "better": "lower", "samples": samples["model_load_ms"]},
            "peak_rss_mb": {"unit": "MB", "better": "lower", "samples": samples["peak_rss_mb"]},
            "pte_bytes": {"unit": "B", "better": "lower", "samples": [pte.stat().st_size]},
        }
        prompts = [
            {"prompt_ids": [i], "ids": [top], "pieces": [cfg.labels[top]], "output_q": codes}
            for i, (top, codes) in zip(picks, first, strict=True)
        ]
        data = {
            "model_kind": "cnn",
            "prompts": prompts,
            "reps": spec.execute.reps,
            "warmup": spec.execute.warmup,
            "metrics": metrics,
            "runtime": "tosa_reference_model",
        }
        return data, {}

    def constant_methods(self, spec: Spec, program: torch.export.ExportedProgram) -> dict[str, Any] | None:
        """None: a CNN has no metadata methods (those are for the LLM runner)."""
        return None

    def manifest_model(self, spec: Spec, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": spec.model.id,
            "max_seq_len": 0,
            "kind": "cnn",
            "num_classes": config.get("num_classes"),
            "input_shape": config.get("input_shape"),
        }

    def bundle_cases(
        self, spec: Spec, program: torch.export.ExportedProgram
    ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """The evaluation images and the quantized model's outputs for them (:mod:`pte_stages.bundled`)."""
        return cnn_test_cases(spec, program)
