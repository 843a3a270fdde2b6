"""The shipped twins of the hub models are what their training script makes, confident on the
matrix's prompts, sized for every 8da4w group, and documented field by field."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import MODEL

from pte_stages.training.train_twins import TWINS

MODELS = MODEL.parent


def _card(name: str) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((MODELS / name / "training.json").read_text())
    return card


@pytest.mark.parametrize("name", sorted(TWINS))
def test_a_shipped_twin_matches_its_card_and_is_confident_on_its_matrix_prompts(name: str) -> None:
    card = _card(name)
    weights = MODELS / name / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == card["weights_sha256"]
    assert card["prompts"] == list(TWINS[name].prompts)
    assert min(card["min_top1_margin"].values()) >= 4.0
    assert card["twin_of"] == TWINS[name].twin_of


@pytest.mark.parametrize("name", sorted(TWINS))
def test_every_linear_layer_of_a_twin_takes_group_128(name: str) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(MODELS / name, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    widths = {n: m.in_features for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert widths and all(w % 128 == 0 for w in widths.values()), widths


@pytest.mark.parametrize("name", sorted(TWINS))
def test_a_twin_readme_says_where_every_config_field_came_from(name: str) -> None:
    config = json.loads((MODELS / name / "config.json").read_text())
    readme = (MODELS / name / "README.md").read_text()
    missing = [k for k in config if f"`{k}`" not in readme]
    assert not missing, f"{name}/README.md does not list {missing}"


def _train_all(out: Path, steps: int | None = None) -> dict[str, Any]:
    """``train_twins --all`` in a fresh process (training sets torch's global determinism and threads)."""
    short = [] if steps is None else ["--steps", str(steps), "--min-margin=-1e9"]
    proc = subprocess.run(
        [sys.executable, "-m", "pte_stages.training.train_twins", "--all", "--out-root", str(out), *short],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    cards: dict[str, Any] = json.loads(proc.stdout)
    return cards


def test_twin_training_is_deterministic(tmp_path: Path) -> None:
    """Two steps each, twice, in two processes: the same bytes. The full runs (300 steps: Gemma alone 190 s on two
    cores) are compared with the shipped cards by the opt-in test below."""
    a, b = _train_all(tmp_path / "a", 2), _train_all(tmp_path / "b", 2)
    assert {n: c["weights_sha256"] for n, c in a.items()} == {n: c["weights_sha256"] for n, c in b.items()}
    assert set(a) == set(TWINS)


@pytest.mark.skipif(
    os.environ.get("PTE_FARM_RETRAIN_TWINS") != "1",
    reason="retrains every twin in full (about 5 min on 2 cores); PTE_FARM_RETRAIN_TWINS=1 runs it",
)
def test_retraining_every_twin_reproduces_the_shipped_weights(tmp_path: Path) -> None:
    cards = _train_all(tmp_path)
    assert {n: c["weights_sha256"] for n, c in cards.items()} == {n: _card(n)["weights_sha256"] for n in TWINS}
