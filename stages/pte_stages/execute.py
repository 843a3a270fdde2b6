"""Execute stage: the ``.pte`` on ExecuTorch's Python runtime, warm-up plus N measured reps.

Before anything runs, the ``.pte`` must match its manifest's sha256 and this machine's torch and
executorch must equal the build's: a mismatch otherwise surfaces as ``xnn_status_invalid_parameter``
deep in XNNPACK (UPSTREAM-ISSUES #9), which reads like a model bug.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .contract import InfraError, Spec, StageError, run_stage, sha256_file, toolchain_versions
from .modeling.hf_lm import load_tokenizer, pieces
from .probes.telemetry import cool_down, max_zone_c, rep_flags, snapshot

CHECKED_PACKAGES = ("torch", "executorch")


def check_artefact(pte: Path, manifest: dict[str, Any]) -> None:
    """Refuse a ``.pte`` that is not the one its manifest describes, or was built elsewhere."""
    want = manifest.get("pte", {}).get("sha256")
    got = sha256_file(pte)
    if got != want:
        raise InfraError(
            f"refusing to execute {pte}: its sha256 {got[:16]}… does not match the manifest's "
            f"{str(want)[:16]}…; the file was corrupted or replaced after lowering",
            hint="rebuild it (pte-farm run --no-cache) or download it again",
        )
    here = toolchain_versions()
    built = manifest.get("toolchain", {})
    diff = [p for p in CHECKED_PACKAGES if built.get(p) != here.get(p)]
    if diff:
        pairs = ", ".join(f"{p} {built.get(p)} (build) vs {here.get(p)} (this device)" for p in diff)
        raise InfraError(
            f"toolchain mismatch: the .pte was built with a different toolchain than this device runs: {pairs}",
            hint="install the build's exact versions on the device (UPSTREAM-ISSUES #9)",
        )


def _argmax_last(outputs: Any) -> int:
    return int(outputs[0][0, -1].argmax())


def generate(method: Any, prompt_ids: list[int], max_new: int, max_seq: int, eos: int | None) -> dict[str, Any]:
    """Greedy generation: one prefill call over the prompt, then one call per decoded token."""
    n = len(prompt_ids)
    t0 = time.perf_counter()
    ids = [_argmax_last(method.execute([torch.tensor([prompt_ids]), torch.arange(n)]))]
    prefill_s = time.perf_counter() - t0
    pos = n
    t1 = time.perf_counter()
    while len(ids) < max_new and ids[-1] != eos and pos < max_seq - 1:
        ids.append(_argmax_last(method.execute([torch.tensor([[ids[-1]]]), torch.tensor([pos])])))
        pos += 1
    decode_s = time.perf_counter() - t1
    return {"ids": ids, "prefill_s": prefill_s, "decode_s": decode_s, "prompt_len": n}


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


METRICS = {
    "decode_tokens_per_sec": ("tok/s", "higher"),
    "prefill_tokens_per_sec": ("tok/s", "higher"),
    "first_token_ms": ("ms", "lower"),
    "model_load_ms": ("ms", "lower"),
    "peak_rss_mb": ("MB", "lower"),
}


def abba_order(reps: int) -> list[str]:
    """``base, head, head, base, base, head, ...`` for ``reps`` each: a linear drift in speed (a
    board heating up) adds the same total to both roles over every ABBA block, so it cancels."""
    pattern = ("base", "head", "head", "base")
    return [pattern[i % 4] for i in range(2 * reps)]


class Role:
    """One ``.pte`` being measured: its loaded runtime, its samples, flags and telemetry so far."""

    def __init__(self, spec: Spec, pte: Path, manifest: dict[str, Any], runtime: Any) -> None:
        self.spec, self.pte, self.runtime = spec, pte, runtime
        self.eos = manifest.get("model", {}).get("eos_token_id")
        self.metrics: dict[str, dict[str, Any]] = {
            name: {"unit": unit, "better": better, "samples": [], "sample_flags": []}
            for name, (unit, better) in METRICS.items()
        }
        size = pte.stat().st_size
        self.metrics["pte_bytes"] = {"unit": "B", "better": "lower", "samples": [size], "sample_flags": [[]]}
        self.first: list[list[int]] | None = None
        self.telemetry: list[dict[str, Any]] = []
        self.measured = 0
        self.warmed = 0

    def rep(self, prompt_ids: list[list[int]], measured: bool, root: Path) -> None:
        """One rep: cool down, telemetry before, load + generate every prompt, telemetry after."""
        cd = self.spec.execute.cooldown
        waited, hot = (0.0, False)
        if cd is not None:
            waited, hot = cool_down(lambda: max_zone_c(root), cd.below_c, cd.max_wait_s, cd.poll_s)
        index = self.measured if measured else -(self.warmed + 1)  # warm-ups: -1, -2, ...
        before = snapshot(index, "before", root)
        before["cooldown_wait_s"] = waited
        t0 = time.perf_counter()
        method = self.runtime.load_program(self.pte).load_method("forward")
        load_ms = (time.perf_counter() - t0) * 1000
        max_new, max_seq = self.spec.max_new_tokens, self.spec.model.max_seq_len
        runs = [generate(method, p, max_new, max_seq, self.eos) for p in prompt_ids]
        after = snapshot(index, "after", root)
        tokens = [r["ids"] for r in runs]
        if self.first is None:
            self.first = tokens
        elif tokens != self.first:
            raise StageError(f"{self.pte.name}: a rep generated different tokens than the first: not deterministic")
        if not measured:
            self.warmed += 1
            return
        decoded = sum(len(r["ids"]) - 1 for r in runs)
        if decoded == 0:
            raise StageError(
                "no prompt decoded past its first token (end of sequence at once, or max_new_tokens=1): "
                "decode speed cannot be measured; use prompts the model continues, and max_new_tokens >= 2"
            )
        decode_s = sum(r["decode_s"] for r in runs)
        prefill_s = sum(r["prefill_s"] for r in runs)
        samples = {
            "decode_tokens_per_sec": decoded / decode_s,
            "prefill_tokens_per_sec": sum(r["prompt_len"] for r in runs) / prefill_s,
            "first_token_ms": 1000 * prefill_s / len(runs),
            "model_load_ms": load_ms,
            "peak_rss_mb": peak_rss_mb(),
        }
        flags = rep_flags([before, after], hot=hot)
        for name, value in samples.items():
            self.metrics[name]["samples"].append(round(value, 4))
            self.metrics[name]["sample_flags"].append(list(flags))
        self.telemetry += [before, after]
        self.measured += 1

    def data(self, prompt_ids: list[list[int]]) -> dict[str, Any]:
        assert self.first is not None
        tokenizer = load_tokenizer(self.spec.model)
        prompts = [
            {"prompt_ids": p, "ids": ids, "pieces": pieces(tokenizer, ids)}
            for p, ids in zip(prompt_ids, self.first, strict=True)
        ]
        return {
            "prompts": prompts,
            "reps": self.spec.execute.reps,
            "warmup": self.spec.execute.warmup,
            "metrics": self.metrics,
            "telemetry": self.telemetry,
        }


def load_checked(spec: Spec, pte_key: str, manifest_key: str) -> tuple[Path, dict[str, Any]]:
    """A `.pte` input and its manifest, refused unless they match each other and this machine."""
    pte = spec.input(pte_key)
    try:
        manifest = json.loads(spec.input(manifest_key).read_text())
    except ValueError as exc:
        raise InfraError(f"manifest {spec.inputs[manifest_key]} is not valid JSON: {exc}") from exc
    check_artefact(pte, manifest)
    return pte, manifest


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    if spec.model.kind == "cnn":
        from .kinds.cnn import execute

        return execute(spec, out)
    head_pte, head_manifest = load_checked(spec, "pte", "manifest")
    interleave = "base_pte" in spec.inputs or "base_manifest" in spec.inputs
    base = load_checked(spec, "base_pte", "base_manifest") if interleave else None
    prompt_ids = [list(p) for p in spec.execute.prompt_ids]
    if not prompt_ids:
        raise StageError("spec.execute.prompt_ids is empty: run the reference stage first")
    from executorch.runtime import Runtime

    runtime = Runtime.get()
    # Tests point telemetry at a fake sysfs tree; production reads the real one.
    root = Path(str(spec.options.get("telemetry_root", "/")))
    head = Role(spec, head_pte, head_manifest, runtime)
    if base is None:
        for rep in range(spec.execute.warmup + spec.execute.reps):
            head.rep(prompt_ids, rep >= spec.execute.warmup, root)
        return head.data(prompt_ids), {}
    roles = {"base": Role(spec, base[0], base[1], runtime), "head": head}
    for _ in range(spec.execute.warmup):
        for r in ("base", "head"):
            roles[r].rep(prompt_ids, False, root)
    order = abba_order(spec.execute.reps)
    for r in order:
        roles[r].rep(prompt_ids, True, root)
    data = head.data(prompt_ids)
    data["base"] = roles["base"].data(prompt_ids)
    data["order"] = order
    return data, {}


def main() -> None:
    sys.exit(run_stage("execute", run))


if __name__ == "__main__":
    main()
