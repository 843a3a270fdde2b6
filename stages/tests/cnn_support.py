"""The CNN chain for the Ethos-U tests: the shipped small CNNs through every stage, for real.

Built once per session (reference, export and quantize per model; lower per model and backend;
execute on the TOSA reference model), the two models side by side to use both cores.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import StageRun, run_stage

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
CNN_MODELS = ("small-cnn", "small-cnn-lrn")
RECIPE = {"name": "ethos-u-int8", "scheme": "pt2e-int8", "symmetric": True, "per_channel": True}
ARM_BACKENDS = {
    "ethos-u55-128": {"name": "ethos-u55-128", "kind": "ethos-u", "target": "ethos-u55-128"},
    "ethos-u85-256": {"name": "ethos-u85-256", "kind": "ethos-u", "target": "ethos-u85-256"},
    "tosa": {"name": "tosa", "kind": "tosa", "profile": "TOSA-1.0+INT"},
}


def cnn_spec(stage: str, model: str, backend: str = "tosa", **extra: Any) -> dict[str, Any]:
    """A spec as the TypeScript side writes it for a CNN cell (no prompts, no token budget)."""
    spec: dict[str, Any] = {
        "schema": "pte-farm/stage-spec@1",
        "stage": stage,
        "cell": {
            "model": model,
            "recipe": RECIPE["name"],
            "backend": backend,
            "device": "host-x86_64",
            "toolchain": "stable",
        },
        "model": {"id": model, "path": str(MODELS_DIR / model), "max_seq_len": 0, "kind": "cnn"},
        "prompts": [],
        "max_new_tokens": 0,
        "recipe": RECIPE,
        "backend": ARM_BACKENDS[backend],
        "inputs": {},
        "execute": {"warmup": 1, "reps": 2, "prompt_ids": []},
        "options": {},
    }
    spec.update(extra)
    return spec


@dataclass
class CnnBuild:
    model: str
    reference: StageRun
    export: StageRun
    quantize: StageRun
    lower: dict[str, StageRun] = field(default_factory=dict)
    execute: StageRun | None = None

    def ok(self) -> None:
        runs = [self.reference, self.export, self.quantize, *self.lower.values()]
        for run in [*runs, *([self.execute] if self.execute else [])]:
            assert run.code == 0, f"{run.out}: exit {run.code}\n{run.log[-3000:]}"


def lower(root: Path, model: str, program: Path, backend: str, base_manifest: Path | None = None) -> StageRun:
    inputs = {"program": str(program)}
    if base_manifest is not None:
        inputs["base_manifest"] = str(base_manifest)
    return run_stage("lower", cnn_spec("lower", model, backend, inputs=inputs), root / f"lower-{backend}")


def execute(root: Path, model: str, lowered: StageRun, prompt_ids: list[list[int]]) -> StageRun:
    inputs = {"pte": str(lowered.out / "model.pte"), "manifest": str(lowered.out / "manifest.json")}
    execute = {"warmup": 1, "reps": 2, "prompt_ids": prompt_ids}
    return run_stage("execute", cnn_spec("execute", model, "tosa", inputs=inputs, execute=execute), root / "execute")


def _front(root: Path, model: str) -> CnnBuild:
    """Reference, export and quantize: once per model, whatever the backend."""
    ref = run_stage("reference", cnn_spec("reference", model), root / model / "reference")
    exp = run_stage("export", cnn_spec("export", model), root / model / "export")
    inputs = {"program": str(exp.out / "program.pt2")}
    q = run_stage("quantize", cnn_spec("quantize", model, inputs=inputs), root / model / "quantize")
    return CnnBuild(model, ref, exp, q)


def _back(root: Path, build: CnnBuild, base_model: str | None) -> CnnBuild:
    """Lower for every Arm backend (against the base model's manifests, if any), execute the TOSA one."""
    for backend in ARM_BACKENDS:
        base = None if base_model is None else root / base_model / f"lower-{backend}" / "manifest.json"
        program = build.quantize.out / "program.pt2"
        build.lower[backend] = lower(root / build.model, build.model, program, backend, base)
    if build.reference.code == 0 and build.lower["tosa"].code == 0:
        ids = [p["prompt_ids"] for p in build.reference.result["data"]["prompts"]]
        build.execute = execute(root / build.model, build.model, build.lower["tosa"], ids)
    return build


def build_all(root: Path) -> dict[str, CnnBuild]:
    """Both models, side by side; the LRN variant is lowered against the plain model's manifests
    (its base), so its lower stages wait for the plain model's."""
    with ThreadPoolExecutor(2) as pool:
        plain = pool.submit(lambda: _back(root, _front(root, "small-cnn"), None))
        lrn_front = pool.submit(_front, root, "small-cnn-lrn")
        plain_build = plain.result()
        return {"small-cnn": plain_build, "small-cnn-lrn": _back(root, lrn_front.result(), "small-cnn")}
