"""Reference stage: FP32 eager greedy tokens (and the eager quantized model's, for a quantized recipe).

These are what the gate holds the ``.pte`` to. They come from Hugging Face ``generate`` on the
eager model, not from the exported graph, so an export or lowering bug cannot hide in both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from .contract import ConfigError, Spec, run_stage
from .modeling.hf_lm import encode_prompt, load_model, load_tokenizer, pieces
from .recipes import recipe_for


def greedy(model: Any, tokenizer: Any, prompt_ids: list[int], max_new_tokens: int) -> dict[str, Any]:
    """Greedy continuation with the smallest top-1 margin seen (how safe the argmax was)."""
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt_ids]),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.pad_token_id,
        )
    ids = [int(t) for t in out.sequences[0, len(prompt_ids) :]]
    margins = [float(torch.topk(s[0], 2).values.diff().abs()) for s in out.scores]
    return {"ids": ids, "pieces": pieces(tokenizer, ids), "min_margin": round(min(margins), 4)}


def run(spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    if spec.model.kind == "cnn":
        from .kinds.cnn import reference

        return reference(spec, out)
    recipe = recipe_for(spec.recipe)
    if not spec.prompts:
        raise ConfigError("spec.prompts is empty: the reference needs at least one prompt")
    model = load_model(spec.model)
    tokenizer = load_tokenizer(spec.model)
    recipe.check(spec.recipe, model)
    prompts: list[dict[str, Any]] = []
    for prompt in spec.prompts:
        ids = encode_prompt(tokenizer, prompt)
        if len(ids) + spec.max_new_tokens > spec.model.max_seq_len:
            raise ConfigError(
                f"prompt {prompt!r} is {len(ids)} tokens; with max_new_tokens={spec.max_new_tokens} it "
                f"exceeds max_seq_len={spec.model.max_seq_len}: shorten it or raise max_seq_len"
            )
        prompts.append(
            {"prompt": prompt, "prompt_ids": ids, "fp32": greedy(model, tokenizer, ids, spec.max_new_tokens)}
        )
    if recipe.quantized:
        recipe.apply(spec.recipe, model)
    for entry in prompts:
        quantized = recipe.quantized and greedy(model, tokenizer, entry["prompt_ids"], spec.max_new_tokens)
        entry["quantized"] = quantized or None
    return {"prompts": prompts}, {}


def main() -> None:
    sys.exit(run_stage("reference", run))


if __name__ == "__main__":
    main()
