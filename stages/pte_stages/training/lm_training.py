"""What every shipped decoder LM shares: the corpus, the tokenizer, the training loop, the margin
check and the saved folder with its training card.

Why a trained model and not a random one: token gates compare greedy argmaxes. A random-init
model has flat logits, so any rounding difference between eager PyTorch and a lowered ``.pte``
flips tokens and the gate becomes a coin flip. These models memorise a small generated corpus,
so every greedy step they take on the shipped prompts has a wide top-1 margin; :func:`train`
checks the margin and refuses to save a model that is not confident.

Everything is produced here deterministically: the same torch build on the same CPU gives the
same bytes. The order of random draws (seed, tokenizer, model init, training) is part of that
contract: ``stages/models/tiny-llama`` was trained before this module was factored out of
``train_tiny`` and its weights still hash the same.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SEED = 20261123
SPECIALS = ["<pad>", "<s>", "</s>"]
PAD, BOS, EOS = 0, 1, 2
VOCAB_SIZE = 512

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

PROMPTS = ["The capital of France is", "Once upon a time", "The capital of Japan is"]


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


def train_tokenizer(docs: list[str], vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Byte-level BPE: any text encodes, so prompts outside the corpus still tokenize."""
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


def encode_docs(tokenizer: PreTrainedTokenizerFast, docs: list[str]) -> torch.Tensor:
    rows = [[BOS, *tokenizer.encode(d, add_special_tokens=False), EOS] for d in docs]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


def greedy_margins(model: Any, tokenizer: PreTrainedTokenizerFast, prompt: str, n: int) -> list[float]:
    """Top-1 minus top-2 logit at each of ``n`` greedy steps from ``prompt`` (no KV cache, so the
    check does not depend on the cache code the stages later export)."""
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


def train(
    out: Path,
    build: Callable[[int], Any],
    *,
    steps: int,
    min_margin: float,
    prompts: Sequence[str] = PROMPTS,
    margin_tokens: int = 24,
    extra_docs: Sequence[str] = (),
    trained_by: str,
    card_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``build(vocab_size)`` on the corpus (plus ``extra_docs``), check every greedy step on
    ``prompts`` has a top-1 margin of at least ``min_margin``, and save model, tokenizer and
    ``training.json`` into ``out``. Refuses (SystemExit, nothing written) an unconfident model.

    The tokenizer is always trained on :func:`corpus` alone, so every shipped LM has the same one;
    ``extra_docs`` are only training rows (a twin's matrix prompt the base corpus lacks)."""
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    docs = corpus()
    tokenizer = train_tokenizer(docs)
    batch = encode_docs(tokenizer, [*docs, *extra_docs])
    model: Any = build(len(tokenizer))
    labels = batch.clone()
    labels[labels == PAD] = -100
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    loss = torch.tensor(0.0)
    t0 = time.perf_counter()
    for step in range(steps):
        loss = model(input_ids=batch, attention_mask=(batch != PAD).long(), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {loss.item():.5f}", file=sys.stderr)
    train_s = time.perf_counter() - t0
    model.eval()
    margins = {p: min(greedy_margins(model, tokenizer, p, margin_tokens)) for p in prompts}
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
        "trained_by": trained_by,
        "seed": SEED,
        "steps": steps,
        "final_loss": round(loss.item(), 6),
        "prompts": list(prompts),
        "min_top1_margin": {p: round(m, 3) for p, m in margins.items()},
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "torch": torch.__version__,
        **(card_extra or {}),
    }
    (out / "training.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"trained in {train_s:.1f} s", file=sys.stderr)
    return card
