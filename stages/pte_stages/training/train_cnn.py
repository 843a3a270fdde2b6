"""Train the small CNNs the project ships (``stages/models/small-cnn`` and ``small-cnn-lrn``).

Why trained weights: the CNN gate compares top-1 classes. A random network's logits are flat (it
picks the same class for every image), so top-1 agreement would say nothing and a rounding
difference could flip it. Trained on the stripes in :mod:`pte_stages.modeling.small_cnn`, the model classifies the
evaluation images with a margin, and the training run refuses to save a model that does not.

Deterministic: one thread, seeded data, the same torch build on the same CPU gives the same bytes.
The folder's ``config.json`` is the input (architecture, labels, data seeds); this writes
``model.safetensors`` and ``training.json`` beside it. Run::

    python -m pte_stages.training.train_cnn --model stages/models/small-cnn
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
from torch import nn

from ..modeling.small_cnn import DataConfig, SmallCnn, images, load_config, top2_margin

SEED = 20261124
BATCH = 64


def train(folder: Path, steps: int, min_accuracy: float) -> dict[str, object]:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cfg = load_config(folder)
    model = SmallCnn(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    loss = torch.tensor(0.0)
    for step in range(steps):
        # A fresh batch every step from a seed no evaluation or calibration set uses.
        x, y = images(cfg, DataConfig(seed=1_000_000 + step, count=BATCH))
        perm = torch.randperm(BATCH)
        loss = loss_fn(model(x[perm]), y[perm])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        x, y = images(cfg, cfg.eval)
        logits = model(x)
        held_x, held_y = images(cfg, DataConfig(seed=2_000_000, count=500))
        held_accuracy = float((model(held_x).argmax(1) == held_y).float().mean())
    correct = int((logits.argmax(1) == y).sum())
    margins = [round(top2_margin(row), 4) for row in logits]
    if correct < len(y) * min_accuracy or held_accuracy < min_accuracy:
        raise SystemExit(
            f"refusing to save: eval images {correct}/{len(y)} correct, held-out accuracy {held_accuracy:.3f} "
            f"(need {min_accuracy}); train longer (--steps)"
        )
    from safetensors.torch import save_file

    weights = folder / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    card = {
        "trained_by": "python -m pte_stages.training.train_cnn",
        "seed": SEED,
        "steps": steps,
        "final_loss": round(float(loss.detach()), 6),
        "eval_correct": f"{correct}/{len(y)}",
        "held_out_accuracy": round(held_accuracy, 4),
        "eval_top1_margins": margins,
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "torch": str(torch.__version__),
    }
    (folder / "training.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m pte_stages.training.train_cnn", description=__doc__)
    ap.add_argument("--model", type=Path, required=True, help="model folder holding config.json")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--min-accuracy", type=float, default=0.9)
    args = ap.parse_args()
    print(json.dumps(train(args.model, args.steps, args.min_accuracy), indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
