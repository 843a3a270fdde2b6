"""The numerics beside the token gate: how far a ``.pte``'s logits moved from eager's, step by step.

Tokens are the contract, but a ``.pte`` can drift a long way before a greedy token flips: a sliding
window dropped by an export moves the logits of the shipped Gemma twin by ~10 from the first step
past the window and may still pick the same tokens on confident prompts. So the reference stage keeps,
for every generated step of every prompt, eager's top-``k`` logits (ids and values, :func:`top_logits`),
and the execute stage compares the ``.pte``'s logits at those ids (:func:`compare`) on its first rep:

* ``max_abs_dlogit``: the largest |``.pte`` − eager| over the compared steps and the top-``k`` ids,
  and the step where it is. Only steps whose inputs were the same are compared: up to and including
  the first step whose token differs (after it the two sequences are different texts).
* ``min_margin``: the ``.pte``'s smallest top-1 − top-2 logit gap over its steps: how near a flip is.

Why the top ``k`` and not the whole vocabulary: a hub model's vocabulary is 262k (Gemma 4): whole
logits for every step would make the reference tens of megabytes; the top ``k`` are where a greedy
decision is made and where drift matters first. The tolerance (per recipe, in the matrix) is applied
by the orchestrator's gate (actions/src/gate/numerics.ts), not here.
"""

from __future__ import annotations

import math
from typing import Any

import torch

TOP_K = 64
"""How many of eager's highest logits per step the reference keeps."""


def top_logits(steps: list[torch.Tensor], k: int = TOP_K) -> dict[str, Any]:
    """Eager's top-``k`` logits per step: ``{"k", "ids": [[int]], "values": [[float]]}`` (float32 values)."""
    ids: list[list[int]] = []
    values: list[list[float]] = []
    for logits in steps:
        flat = logits.reshape(-1).to(torch.float32)
        top = torch.topk(flat, min(k, flat.numel()))
        ids.append([int(i) for i in top.indices])
        values.append([float(v) for v in top.values])
    return {"k": min(k, min((s.numel() for s in steps), default=k)), "ids": ids, "values": values}


def margin(logits: torch.Tensor) -> float:
    """The top-1 − top-2 gap of one step's logits."""
    top2 = torch.topk(logits.reshape(-1).to(torch.float32), 2).values
    return float(top2[0] - top2[1])


def compare(
    reference: dict[str, Any], reference_ids: list[int], logits: list[torch.Tensor], ids: list[int]
) -> dict[str, Any]:
    """One prompt: the ``.pte``'s per-step ``logits`` and greedy ``ids`` against the reference's."""
    same = 0
    while same < min(len(ids), len(reference_ids)) and ids[same] == reference_ids[same]:
        same += 1
    # Step s's inputs are the prompt and tokens 0..s-1: equal up to the first differing token, inclusive.
    steps = min(same + 1, len(logits), len(reference["ids"]))
    worst, at = 0.0, 0
    for s in range(steps):
        index = torch.tensor(reference["ids"][s], dtype=torch.long)
        got = logits[s].reshape(-1).to(torch.float32)[index]
        want = torch.tensor(reference["values"][s], dtype=torch.float32)
        d = float((got - want).abs().max())
        if not math.isfinite(d):  # a NaN or infinite logit: as far as it gets (null in the data)
            worst, at = math.inf, s
            break
        if d > worst or s == 0:
            worst, at = d, s
    margins = [m if math.isfinite(m) else 0.0 for m in map(margin, logits)]  # NaN: no margin at all
    low = min(range(len(margins)), key=margins.__getitem__) if margins else 0
    return {
        "steps": steps,
        "max_abs_dlogit": worst if math.isfinite(worst) else None,
        "at_step": at,
        "min_margin": margins[low] if margins else 0.0,
        "min_margin_at": low,
    }
