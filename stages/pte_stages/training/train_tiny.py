"""Train the tiny decoder-only LM that the project ships (``stages/models/tiny-llama``).

A two-layer Llama-shaped model on the shared corpus (:mod:`pte_stages.training.lm_training`, which
says why the shipped models are trained and how determinism is kept). Run::

    python -m pte_stages.training.train_tiny --out stages/models/tiny-llama
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transformers import LlamaConfig, LlamaForCausalLM

from .lm_training import BOS, EOS, PAD, train


def model_config(vocab_size: int) -> LlamaConfig:
    # Dimensions are multiples of 128 so INT4 group sizes 32 and 128 both divide every linear.
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--min-margin", type=float, default=4.0)
    args = ap.parse_args()
    card = train(
        args.out,
        lambda vocab: LlamaForCausalLM(model_config(vocab)),
        steps=args.steps,
        min_margin=args.min_margin,
        trained_by="python -m pte_stages.training.train_tiny",
    )
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
