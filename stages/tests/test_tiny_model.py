"""The shipped model is what its training script makes, and it is confident."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from conftest import MODEL


def test_shipped_weights_match_their_training_card() -> None:
    card = json.loads((MODEL / "training.json").read_text())
    assert hashlib.sha256((MODEL / "model.safetensors").read_bytes()).hexdigest() == card["weights_sha256"]
    assert min(card["min_top1_margin"].values()) > 4.0
    assert (MODEL / "model.safetensors").stat().st_size < 4 * 1024 * 1024


def _train(out: Path) -> dict[str, object]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pte_stages.training.train_tiny",
            "--out",
            str(out),
            "--steps",
            "30",
            "--min-margin=-1e9",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(proc.stdout)


def test_training_is_deterministic(tmp_path: Path) -> None:
    a, b = _train(tmp_path / "a"), _train(tmp_path / "b")
    assert a["weights_sha256"] == b["weights_sha256"]
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_training_refuses_to_save_an_unconfident_model(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pte_stages.training.train_tiny", "--out", str(tmp_path / "m"), "--steps", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode != 0 and "not confident enough" in proc.stderr
    assert not (tmp_path / "m").exists()
