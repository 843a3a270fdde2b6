"""``TextLLMRunner``'s own decode rate for a ``.pte``, from its ``Stats`` alone: the reference the
fidelity benchmark (scripts/bench-fidelity.ts) holds the execute stage's figure against.

    python -m pte_stages.bench_runner --pte model.pte --tokenizer tokenizer.json \\
        --prompt "The capital of France is" [--prompt ...] --max-new 24 --runs 100 --out rate.json

The runner's timestamps are whole milliseconds, coarser than one short generation, so the rate is
aggregated: every run's generated tokens over every run's ``inference_end_ms - prompt_eval_end_ms``
(what ``llama_main`` prints as "Generated N tokens ... Rate"). The error of each difference is under
1 ms either way and not biased, so over ``runs`` runs of ``d`` ms each the relative resolution is
about ``1 / (d * runs)`` or better. Writes one JSON object to ``--out`` (the runner prints the text it
generates on stdout itself).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def measure(pte: str, tokenizer: str, prompts: list[str], max_new: int, max_seq: int, runs: int) -> dict[str, Any]:
    from executorch.extension.llm.runner import GenerationConfig, TextLLMRunner

    runner = TextLLMRunner(pte, tokenizer)
    config = GenerationConfig(
        echo=False, max_new_tokens=max_new, seq_len=max_seq, temperature=0.0, num_bos=1, num_eos=0
    )
    generated = 0
    decode_ms = 0
    stats: list[dict[str, Any]] = []
    for i in range(runs + 1):  # the first loads the program: not counted
        for prompt in prompts:
            runner.reset()
            # No token callback: the runner's loop alone, as llama_main runs it (less its printf).
            runner.generate(prompt, config, None, lambda s: stats.append(json.loads(s.to_json_string())))
            s = stats[-1]
            if i > 0:
                generated += int(s["generated_tokens"])
                decode_ms += int(s["inference_end_ms"]) - int(s["prompt_eval_end_ms"])
    if decode_ms <= 0:
        raise SystemExit("TextLLMRunner reported no decode time: raise --runs")
    return {
        "runs": runs * len(prompts),
        "generated_tokens": generated,
        "decode_ms": decode_ms,
        "decode_tokens_per_sec": 1000 * generated / decode_ms,
        "resolution": 1 / decode_ms,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--pte", required=True)
    ap.add_argument("--tokenizer", required=True, help="the model folder's tokenizer.json")
    ap.add_argument("--prompt", action="append", required=True)
    ap.add_argument("--max-new", type=int, default=24)
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", required=True, help="where to write the JSON result")
    args = ap.parse_args()
    if args.runs < 1 or args.max_new < 2:
        ap.error("--runs must be >= 1 and --max-new >= 2")
    out = measure(args.pte, args.tokenizer, args.prompt, args.max_new, args.max_seq, args.runs)
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
