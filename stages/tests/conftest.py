"""Shared helpers: every stage runs as its own process, with the real toolchain, as in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MODEL = Path(__file__).resolve().parents[1] / "models" / "tiny-llama"
PROMPTS = ["The capital of France is", "Once upon a time"]
RECIPES = {
    "fp32": {"name": "fp32", "scheme": "fp32"},
    "8da4w-g32": {"name": "8da4w-g32", "scheme": "8da4w", "group_size": 32},
}
BACKENDS = {"xnnpack": {"name": "xnnpack", "kind": "xnnpack"}, "portable": {"name": "portable", "kind": "portable"}}


def make_spec(stage: str, recipe: str = "fp32", backend: str = "portable", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schema": "pte-farm/stage-spec@1",
        "stage": stage,
        "cell": {"model": "tiny-llama", "recipe": recipe, "backend": backend, "device": "host", "toolchain": "stable"},
        "model": {"id": "tiny-llama", "path": str(MODEL), "max_seq_len": 128},
        "prompts": PROMPTS,
        "max_new_tokens": 24,
        "recipe": RECIPES[recipe],
        "backend": BACKENDS[backend],
    }
    spec.update(extra)
    return spec


@dataclass
class StageRun:
    code: int
    out: Path
    log: str

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.out / "result.json").read_text())


def run_stage(stage: str, spec: dict[str, Any] | str, out: Path) -> StageRun:
    """``python -m pte_stages.<stage>`` in a fresh process; ``spec`` may be raw text."""
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "spec.json"
    spec_path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", f"pte_stages.{stage}", "--spec", str(spec_path), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    return StageRun(proc.returncode, out, proc.stderr)


@dataclass
class Chain:
    reference: StageRun
    export: StageRun
    quantize: StageRun
    lower: StageRun
    execute: StageRun


def build_chain(root: Path, recipe: str, backend: str, reps: int = 2) -> Chain:
    ref = run_stage("reference", make_spec("reference", recipe, backend), root / "reference")
    exp = run_stage("export", make_spec("export", recipe, backend), root / "export")
    q = run_stage(
        "quantize",
        make_spec("quantize", recipe, backend, inputs={"program": str(exp.out / "program.pt2")}),
        root / "quantize",
    )
    low = run_stage(
        "lower", make_spec("lower", recipe, backend, inputs={"program": str(q.out / "program.pt2")}), root / "lower"
    )
    prompt_ids = [p["prompt_ids"] for p in ref.result["data"]["prompts"]]
    ex = run_stage("execute", execute_spec(low.out, recipe, backend, prompt_ids, reps), root / "execute")
    return Chain(ref, exp, q, low, ex)


def execute_spec(
    lower_out: Path,
    recipe: str,
    backend: str,
    prompt_ids: list[list[int]],
    reps: int = 2,
    pte: Path | None = None,
    manifest: Path | None = None,
) -> dict[str, Any]:
    return make_spec(
        "execute",
        recipe,
        backend,
        inputs={"pte": str(pte or lower_out / "model.pte"), "manifest": str(manifest or lower_out / "manifest.json")},
        execute={"warmup": 1, "reps": reps, "prompt_ids": prompt_ids},
    )


@pytest.fixture(scope="session")
def fp32_portable(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return build_chain(tmp_path_factory.mktemp("fp32-portable"), "fp32", "portable")


@pytest.fixture(scope="session")
def q_xnnpack(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return build_chain(tmp_path_factory.mktemp("8da4w-xnnpack"), "8da4w-g32", "xnnpack")


@pytest.fixture(scope="session")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Both shipped CNNs through every stage (cnn_support.build_all), once per session: shared by
    the Ethos-U and bundled-program tests. ``dict[str, cnn_support.CnnBuild]``."""
    from cnn_support import build_all  # cnn_support imports this module

    builds = build_all(tmp_path_factory.mktemp("cnn"))
    for build in builds.values():
        build.ok()
    return builds


# Session fixtures that build whole chains, and the modules whose tests use them. `make pytest` runs
# two xdist workers; each of these groups goes to one worker whole, so a chain is built once, and
# the two groups start on different workers while the other tests fill the gaps. (xdist's own
# `--dist loadgroup` does nothing with pytest 9.2: it renames `item._nodeid`, which pytest 9.2
# replaced with `item._id`, so the group suffix never reaches the scheduler.)
SHARED_BUILDS = {"cnn": "cnn", "fp32_portable": "tiny-llama", "q_xnnpack": "tiny-llama"}
MODULE_GROUPS = {
    "tests/test_bundled.py": "cnn",
    "tests/test_ethos_u.py": "cnn",
    "tests/test_pipeline.py": "tiny-llama",
    "tests/test_interleave.py": "tiny-llama",
    "tests/test_refusals.py": "tiny-llama",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses a shared build from a module outside that build's group would build it twice."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        for fixture in getattr(item, "fixturenames", ()):
            group = SHARED_BUILDS.get(fixture)
            if group is not None and MODULE_GROUPS.get(module) != group:
                raise pytest.UsageError(f"{item.nodeid} uses {fixture}: add {module} to MODULE_GROUPS as {group!r}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class SharedBuildScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return MODULE_GROUPS.get(nodeid.split("::", 1)[0], nodeid)

    return SharedBuildScheduling(config, log)
