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
from .model import load_tokenizer, pieces

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


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    pte = spec.input("pte")
    try:
        manifest = json.loads(spec.input("manifest").read_text())
    except ValueError as exc:
        raise InfraError(f"manifest {spec.inputs['manifest']} is not valid JSON: {exc}") from exc
    check_artefact(pte, manifest)
    prompt_ids = [list(p) for p in spec.execute.prompt_ids]
    if not prompt_ids:
        raise StageError("spec.execute.prompt_ids is empty: run the reference stage first")
    from executorch.runtime import Runtime

    runtime = Runtime.get()
    eos = manifest.get("model", {}).get("eos_token_id")
    metrics: dict[str, dict[str, Any]] = {
        "decode_tokens_per_sec": {"unit": "tok/s", "better": "higher", "samples": []},
        "prefill_tokens_per_sec": {"unit": "tok/s", "better": "higher", "samples": []},
        "first_token_ms": {"unit": "ms", "better": "lower", "samples": []},
        "model_load_ms": {"unit": "ms", "better": "lower", "samples": []},
        "peak_rss_mb": {"unit": "MB", "better": "lower", "samples": []},
        "pte_bytes": {"unit": "B", "better": "lower", "samples": [pte.stat().st_size]},
    }
    first: list[list[int]] | None = None
    for rep in range(spec.execute.warmup + spec.execute.reps):
        t0 = time.perf_counter()
        method = runtime.load_program(pte).load_method("forward")
        load_ms = (time.perf_counter() - t0) * 1000
        runs = [generate(method, p, spec.max_new_tokens, spec.model.max_seq_len, eos) for p in prompt_ids]
        tokens = [r["ids"] for r in runs]
        if first is None:
            first = tokens
        elif tokens != first:
            raise StageError(f"rep {rep} generated different tokens than rep 0: the runtime is not deterministic")
        if rep < spec.execute.warmup:
            continue
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
        for name, value in samples.items():
            metrics[name]["samples"].append(round(value, 4))
    assert first is not None
    tokenizer = load_tokenizer(spec.model)
    prompts = [
        {"prompt_ids": p, "ids": ids, "pieces": pieces(tokenizer, ids)}
        for p, ids in zip(prompt_ids, first, strict=True)
    ]
    data = {"prompts": prompts, "reps": spec.execute.reps, "warmup": spec.execute.warmup, "metrics": metrics}
    return data, {}


def main() -> None:
    sys.exit(run_stage("execute", run))


if __name__ == "__main__":
    main()
