"""The shipped CNNs are what their training script makes, and they classify their images."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cnn_support import CNN_MODELS, MODELS_DIR


@pytest.mark.parametrize("model", CNN_MODELS)
def test_shipped_cnn_weights_match_their_training_card(model: str) -> None:
    folder = MODELS_DIR / model
    card = json.loads((folder / "training.json").read_text())
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == card["weights_sha256"]
    assert card["eval_correct"] == "10/10"
    assert min(card["eval_top1_margins"]) > 3.0
    assert (folder / "model.safetensors").stat().st_size < 512 * 1024


def test_the_lrn_variant_differs_from_the_plain_model_only_by_its_lrn_layer() -> None:
    plain = json.loads((MODELS_DIR / "small-cnn" / "config.json").read_text())
    lrn = json.loads((MODELS_DIR / "small-cnn-lrn" / "config.json").read_text())
    assert plain["lrn"] is None and lrn["lrn"]["size"] == 5
    same = {k: v for k, v in plain.items() if k not in ("lrn", "architecture")}
    assert same == {k: v for k, v in lrn.items() if k not in ("lrn", "architecture")}


def _train(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pte_stages.training.train_cnn", "--model", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_cnn_training_is_deterministic(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(MODELS_DIR / "small-cnn" / "config.json", folder)
        proc = _train(folder, "--steps", "4", "--min-accuracy", "0")
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.append(json.loads(proc.stdout)["weights_sha256"])
    assert digests[0] == digests[1]


def test_cnn_training_refuses_to_save_a_model_that_cannot_classify(tmp_path: Path) -> None:
    shutil.copy(MODELS_DIR / "small-cnn" / "config.json", tmp_path)
    proc = _train(tmp_path, "--steps", "1")
    assert proc.returncode != 0
    assert "refusing to save" in proc.stderr
    assert not (tmp_path / "model.safetensors").exists()
