"""Train the hub models' twins the farm ships: same architecture and non-size config as the
published model, sizes cut down, trained on the shared corpus (:mod:`.lm_training`).

The hub models (Gemma 4 E2B, Llama 3.2 1B, OPT-125M) cannot be downloaded where the farm's own
tests run; their twins carry the same export hazards through every stage. Each folder's README
lists every config field and where its value came from. Run (from ``stages/``)::

    python -m pte_stages.training.train_twins --model gemma-4-tiny --out models/gemma-4-tiny
    python -m pte_stages.training.train_twins --all --out-root models

Sizes: every ``nn.Linear`` input is a multiple of 128 so that 8da4w with group 32 or 128
quantizes every linear layer (``recipes.Int8DynActInt4Weight.check``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoModelForCausalLM, Gemma4TextConfig, LlamaConfig, OPTConfig, PretrainedConfig

from .lm_training import BOS, EOS, PAD, train

CAPITAL = "The capital of France is"
STORY = "Once upon a time"
HAIKU = "Write a haiku about the sea."

SLIDING, FULL = "sliding_attention", "full_attention"


def gemma_4_tiny(vocab: int) -> Gemma4TextConfig:
    """Gemma 4 E2B's text decoder (``Gemma4ForCausalLM``), sizes reduced. E2B: 35 layers SSSSF×7,
    the last 20 reuse the KV of the last unshared sliding and full layers (13, 14). Here 5 layers
    S S F | S F: the smallest layout transformers accepts that keeps consecutive sliding layers, a
    full last layer and KV sharing of both types (producers must include every type; the last
    layer must be full). The window 8 is below every prompt + generation, so it matters."""
    # global_head_dim is an __init__ keyword the config turns into per_layer_config (full layers' head_dim).
    return Gemma4TextConfig(  # type: ignore[call-arg]
        vocab_size=vocab,
        vocab_size_per_layer_input=vocab,
        hidden_size=128,
        hidden_size_per_layer_input=128,
        intermediate_size=128,
        num_hidden_layers=5,
        layer_types=[SLIDING, SLIDING, FULL, SLIDING, FULL],
        num_kv_shared_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=32,
        global_head_dim=64,
        use_double_wide_mlp=True,
        sliding_window=8,
        final_logit_softcapping=30.0,
        tie_word_embeddings=True,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )


def opt_tiny(vocab: int) -> OPTConfig:
    """OPT-125M (``OPTForCausalLM``), sizes reduced; its learned position table bounds max_seq_len."""
    return OPTConfig(
        vocab_size=vocab,
        hidden_size=128,
        ffn_dim=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        word_embed_proj_dim=128,
        do_layer_norm_before=True,
        activation_function="relu",
        dropout=0.1,
        attention_dropout=0.0,
        layerdrop=0.0,
        enable_bias=True,
        layer_norm_elementwise_affine=True,
        tie_word_embeddings=True,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )


def llama_3_2_tiny(vocab: int) -> LlamaConfig:
    """Llama 3.2 1B (``LlamaForCausalLM``), sizes reduced: tied embeddings, llama3 rope scaling."""
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=32,
        hidden_act="silu",
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )


@dataclass(frozen=True)
class Twin:
    """A shipped twin: its config, the hub model it stands for, and the matrix prompts it must be
    confident on (the hub model's own, so ``twin_of`` compares like with like)."""

    config: Callable[[int], PretrainedConfig]
    twin_of: str
    prompts: tuple[str, ...]
    max_new_tokens: int = 32
    steps: int = 300
    extra_docs: tuple[str, ...] = field(default=())


TWINS: dict[str, Twin] = {
    "gemma-4-tiny": Twin(
        gemma_4_tiny,
        "gemma-4-e2b",
        (CAPITAL, HAIKU),
        # The hub entry's second prompt is not in the shared corpus: one training row continues it.
        extra_docs=(f"{HAIKU} Waves fold into foam / gulls ride the cold morning wind / salt on every stone .",),
    ),
    "opt-tiny": Twin(opt_tiny, "opt-125m", (CAPITAL, STORY)),
    "llama-3.2-tiny": Twin(llama_3_2_tiny, "llama-3.2-1b", (CAPITAL, STORY)),
}


def build(config: Callable[[int], PretrainedConfig]) -> Callable[[int], Any]:
    def make(vocab: int) -> Any:
        return AutoModelForCausalLM.from_config(config(vocab))

    return make


def train_twin(name: str, out: Path, steps: int | None = None, min_margin: float = 4.0) -> dict[str, Any]:
    twin = TWINS[name]
    return train(
        out,
        build(twin.config),
        steps=twin.steps if steps is None else steps,
        min_margin=min_margin,
        prompts=twin.prompts,
        margin_tokens=twin.max_new_tokens,
        extra_docs=twin.extra_docs,
        trained_by=f"python -m pte_stages.training.train_twins --model {name}",
        card_extra={"twin_of": twin.twin_of},
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=sorted(TWINS))
    which.add_argument("--all", action="store_true", help="every twin, into --out-root/<name>")
    ap.add_argument("--out", type=Path, help="the model folder (with --model)")
    ap.add_argument("--out-root", type=Path, help="the models folder (with --all)")
    ap.add_argument("--steps", type=int, default=None, help="override the twin's step count (tests)")
    ap.add_argument("--min-margin", type=float, default=4.0)
    args = ap.parse_args()
    if args.all:
        if args.out_root is None:
            ap.error("--all needs --out-root")
        cards = {n: train_twin(n, args.out_root / n, args.steps, args.min_margin) for n in TWINS}
        print(json.dumps(cards, indent=2))
        return
    if args.out is None:
        ap.error("--model needs --out")
    print(json.dumps(train_twin(args.model, args.out, args.steps, args.min_margin), indent=2))


if __name__ == "__main__":
    main()
