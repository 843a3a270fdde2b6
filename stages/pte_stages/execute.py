"""Execute stage: the ``.pte`` on ExecuTorch's Python runtime, warm-up plus N measured reps.

Before anything runs, the ``.pte`` must match its manifest's sha256 and this machine's torch and
executorch must equal the build's (:func:`pte_stages.runtime.load_checked`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .contract import Spec, StageError, run_stage
from .kinds.cnn import execute
from .modeling.hf_lm import load_tokenizer, pieces
from .probes.telemetry import cool_down, max_zone_c, rep_flags, snapshot
from .runtime import abba_order, generate, load_checked, peak_rss_mb

METRICS = {
    "decode_tokens_per_sec": ("tok/s", "higher"),
    "prefill_tokens_per_sec": ("tok/s", "higher"),
    "first_token_ms": ("ms", "lower"),
    "model_load_ms": ("ms", "lower"),
    "peak_rss_mb": ("MB", "lower"),
}


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


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    if spec.model.kind == "cnn":
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
