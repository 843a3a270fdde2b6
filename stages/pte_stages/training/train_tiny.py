"""Train the tiny decoder-only LM that the project ships (``stages/models/tiny-llama``).

Why a trained model and not a random one: token gates compare greedy argmaxes. A random-init
model has flat logits, so any rounding difference between eager PyTorch and a lowered ``.pte``
flips tokens and the gate becomes a coin flip. This model memorises a small generated corpus,
so every greedy step it takes on the shipped prompts has a wide top-1 margin (the training run
checks the margin and refuses to save a model that is not confident).

The corpus, the tokenizer and the weights are all produced here, deterministically: the same
torch build on the same CPU gives the same bytes. Run::

    python -m pte_stages.training.train_tiny --out stages/models/tiny-llama
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SEED = 20261123
SPECIALS = ["<pad>", "<s>", "</s>"]
PAD, BOS, EOS = 0, 1, 2

CAPITALS = [
    ("France", "Paris", "the Seine", "bread and cheese"),
    ("Germany", "Berlin", "the Spree", "trains and beer"),
    ("Italy", "Rome", "the Tiber", "pasta and old ruins"),
    ("Spain", "Madrid", "the Manzanares", "late dinners"),
    ("Japan", "Tokyo", "the Sumida", "fast trains and quiet gardens"),
    ("Egypt", "Cairo", "the Nile", "the great pyramids"),
    ("Canada", "Ottawa", "the Rideau", "cold winters and maple trees"),
    ("Kenya", "Nairobi", "the Athi", "long runners and wide parks"),
    ("Peru", "Lima", "the Rimac", "fish by the sea"),
    ("Norway", "Oslo", "the Akerselva", "deep fjords and long nights"),
    ("India", "Delhi", "the Yamuna", "spices and busy markets"),
    ("Brazil", "Brasilia", "the Paranoa lake", "football and forests"),
]

STORIES = [
    "Once upon a time there was a small robot who wanted to see the sea . "
    "Every morning it rolled to the top of the hill and looked to the west . "
    "One day a bird told it the way , and the robot rolled for seven days until it heard the waves .",
    "In a quiet village by the river lived an old baker named Tom . "
    "He baked one loaf of bread for every house before the sun came up , "
    "and nobody in the village ever knew how he did it .",
    "The farm has three boards on a shelf : a Pi , a small Mac and a model of a chip . "
    "Every night they run the same model and write down how fast it speaks .",
    "def add ( a , b ) : return a + b . def mul ( a , b ) : return a * b . "
    "print ( add ( 2 , 3 ) ) prints 5 and print ( mul ( 2 , 3 ) ) prints 6 .",
]


def corpus() -> list[str]:
    """The training documents: one per prompt family, each long enough for 24+ new tokens."""
    docs = []
    for country, capital, river, known in CAPITALS:
        docs.append(
            f"The capital of {country} is {capital} . {capital} lies on {river} "
            f"and is known for {known} . People in {capital} like to walk by {river} "
            f"in the evening when the air is cool ."
        )
    docs.extend(STORIES)
    return docs


PROMPTS = ["The capital of France is", "Once upon a time", "The capital of Japan is"]


def train_tokenizer(docs: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    assert [tok.token_to_id(s) for s in SPECIALS] == [PAD, BOS, EOS]
    # Like Llama's tokenizer: encoding a prompt prepends <s>, so prompts match training rows.
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", BOS)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


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


def encode_docs(tokenizer: PreTrainedTokenizerFast, docs: list[str]) -> torch.Tensor:
    rows = [[BOS, *tokenizer.encode(d, add_special_tokens=False), EOS] for d in docs]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


def greedy_margins(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, prompt: str, n: int) -> list[float]:
    """Top-1 minus top-2 logit at each of ``n`` greedy steps from ``prompt``."""
    ids = tokenizer.encode(prompt)
    margins = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            top = torch.topk(logits, 2).values
            margins.append(float(top[0] - top[1]))
            nxt = int(logits.argmax())
            if nxt == EOS:
                break
            ids.append(nxt)
    return margins


def train(out: Path, steps: int, min_margin: float) -> dict[str, object]:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    docs = corpus()
    tokenizer = train_tokenizer(docs, vocab_size=512)
    batch = encode_docs(tokenizer, docs)
    model = LlamaForCausalLM(model_config(len(tokenizer)))
    labels = batch.clone()
    labels[labels == PAD] = -100
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    loss = torch.tensor(0.0)
    for step in range(steps):
        loss = model(input_ids=batch, attention_mask=(batch != PAD).long(), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {loss.item():.5f}", file=sys.stderr)
    model.eval()
    margins = {p: min(greedy_margins(model, tokenizer, p, 24)) for p in PROMPTS}
    worst = min(margins.values())
    if worst < min_margin:
        raise SystemExit(
            f"the trained model is not confident enough: smallest top-1 margin {worst:.2f} "
            f"< {min_margin} on {margins}; train for more steps"
        )
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    weights = (out / "model.safetensors").read_bytes()
    card = {
        "trained_by": "python -m pte_stages.training.train_tiny",
        "seed": SEED,
        "steps": steps,
        "final_loss": round(loss.item(), 6),
        "prompts": PROMPTS,
        "min_top1_margin": {p: round(m, 3) for p, m in margins.items()},
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "torch": torch.__version__,
    }
    (out / "training.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--min-margin", type=float, default=4.0)
    args = ap.parse_args()
    print(json.dumps(train(args.out, args.steps, args.min_margin), indent=2))


if __name__ == "__main__":
    main()
