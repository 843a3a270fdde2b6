"""pte_stages.numerics: eager's top logits kept per step, and the .pte's compared only while the
inputs were the same (up to and including the first differing token)."""

from __future__ import annotations

import math

import torch

from pte_stages.numerics import compare, margin, top_logits


def _steps(rows: list[list[float]]) -> list[torch.Tensor]:
    return [torch.tensor(r, dtype=torch.float32) for r in rows]


def test_top_logits_keeps_the_highest_ids_and_values_per_step() -> None:
    top = top_logits(_steps([[0.5, 3.0, -1.0, 2.0], [9.0, 1.0, 8.5, 0.0]]), k=2)
    assert top == {"k": 2, "ids": [[1, 3], [0, 2]], "values": [[3.0, 2.0], [9.0, 8.5]]}
    assert margin(torch.tensor([0.5, 3.0, -1.0, 2.0])) == 1.0


def test_compare_finds_the_worst_step_and_the_smallest_margin() -> None:
    eager = _steps([[0.0, 5.0, 1.0], [4.0, 0.0, 1.0], [0.0, 0.0, 6.0]])
    ref = top_logits(eager, k=3)
    pte = _steps([[0.0, 5.0, 1.0], [4.0, 0.0, 1.25], [0.0, 0.5, 6.0]])
    out = compare(ref, [1, 0, 2], pte, [1, 0, 2])
    assert out == {"steps": 3, "max_abs_dlogit": 0.5, "at_step": 2, "min_margin": 2.75, "min_margin_at": 1}


def test_compare_stops_after_the_first_differing_token() -> None:
    eager = _steps([[0.0, 5.0], [4.0, 0.0], [0.0, 6.0]])
    ref = top_logits(eager, k=2)
    # Step 1 picks another token (inputs still equal: compared); step 2's inputs differ: not compared.
    pte = _steps([[0.0, 5.0], [0.0, 4.5], [90.0, 0.0]])
    out = compare(ref, [1, 0, 1], pte, [1, 1, 0])
    assert out["steps"] == 2
    assert (out["max_abs_dlogit"], out["at_step"]) == (4.5, 1)


def test_a_non_finite_logit_is_reported_as_null() -> None:
    ref = top_logits(_steps([[0.0, 5.0], [4.0, 0.0]]), k=2)
    out = compare(ref, [1, 0], _steps([[0.0, 5.0], [math.nan, 0.0]]), [1, 0])
    assert (out["max_abs_dlogit"], out["at_step"], out["min_margin"]) == (None, 1, 0.0)
