"""The small CNN family the project ships for the Ethos-U path, and the images it is fed.

A MobileNetV2 in miniature (inverted-residual blocks, ReLU6, depthwise convolutions, global
average pool), optionally with a ``LocalResponseNorm`` after the stem: the MobileNetV2-with-an-LRN
case from Arm's ExecuTorch labs, where one operator the NPU lacks splits the graph into NPU and CPU
pieces. Everything a stage needs is in the model folder (``config.json``, ``model.safetensors``),
so it loads with no hub, and the images are generated here from seeds in the config: calibration
and evaluation inputs are the same on every machine.

The images are oriented stripes: class ``c`` is a grating at ``c * 180 / num_classes`` degrees in
the class's colour, with random frequency, phase, contrast and noise. The shipped weights are
trained on them (``python -m pte_stages.training.train_cnn``), so the classifier's top-1 is a real decision
with a margin, not the argmax of a random network's flat logits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..contract import ConfigError

MODEL_TYPE = "pte-farm-cnn"

# One colour per class (RGB weights): orientation alone is learnable too, the colour makes the task
# easy enough for a few hundred training steps.
PALETTE = (
    (1.0, 0.2, 0.2),
    (0.2, 1.0, 0.2),
    (0.2, 0.2, 1.0),
    (1.0, 1.0, 0.2),
    (1.0, 0.2, 1.0),
    (0.2, 1.0, 1.0),
    (1.0, 0.6, 0.2),
    (0.6, 0.2, 1.0),
    (0.2, 0.6, 0.6),
    (0.8, 0.8, 0.8),
)


@dataclass(frozen=True)
class LrnConfig:
    """``torch.nn.LocalResponseNorm`` arguments; it sits after the stem's ReLU6."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


@dataclass(frozen=True)
class DataConfig:
    """A deterministic image set: ``count`` images from ``seed``; image ``i`` has class ``i % num_classes``."""

    seed: int
    count: int


@dataclass(frozen=True)
class CnnConfig:
    input_shape: tuple[int, ...]
    num_classes: int
    stem_channels: int
    # MobileNetV2's (expansion t, channels c, repeats n, first stride s) rows.
    blocks: tuple[tuple[int, int, int, int], ...]
    head_channels: int
    lrn: LrnConfig | None
    labels: tuple[str, ...]
    calibration: DataConfig
    eval: DataConfig

    @property
    def image_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.input_shape
        return c, h, w


def is_cnn_folder(path: Path) -> bool:
    """True when the model folder's ``config.json`` is one of ours (``model_type: pte-farm-cnn``)."""
    try:
        return json.loads((path / "config.json").read_text()).get("model_type") == MODEL_TYPE
    except (OSError, ValueError, AttributeError):
        return False


def load_config(path: Path) -> CnnConfig:
    """The folder's config, or a config error naming the field that is wrong."""
    raw: dict[str, Any] = json.loads((path / "config.json").read_text())
    try:
        shape = tuple(int(d) for d in raw["input_shape"])
        if len(shape) != 4 or shape[0] != 1:
            raise ValueError(f"input_shape must be [1, C, H, W], got {list(shape)}")
        lrn = raw.get("lrn")
        cfg = CnnConfig(
            input_shape=shape,
            num_classes=int(raw["num_classes"]),
            stem_channels=int(raw["stem_channels"]),
            blocks=tuple((int(t), int(c), int(n), int(s)) for t, c, n, s in raw["blocks"]),
            head_channels=int(raw["head_channels"]),
            lrn=None if lrn is None else LrnConfig(**lrn),
            labels=tuple(str(x) for x in raw["labels"]),
            calibration=DataConfig(**raw["data"]["calibration"]),
            eval=DataConfig(**raw["data"]["eval"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path / 'config.json'}: not a valid {MODEL_TYPE} config: {exc!r}") from exc
    if len(cfg.labels) != cfg.num_classes or cfg.num_classes > len(PALETTE):
        raise ConfigError(
            f"{path / 'config.json'}: needs one label per class and at most {len(PALETTE)} classes "
            f"(labels {len(cfg.labels)}, num_classes {cfg.num_classes})"
        )
    return cfg


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1×1 expand, 3×3 depthwise, 1×1 linear projection, skip when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class SmallCnn(nn.Module):
    def __init__(self, cfg: CnnConfig) -> None:
        super().__init__()
        channels = cfg.image_shape[0]
        stem: list[nn.Module] = [
            nn.Conv2d(channels, cfg.stem_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cfg.stem_channels),
            nn.ReLU6(),
        ]
        if cfg.lrn is not None:
            stem.append(nn.LocalResponseNorm(cfg.lrn.size, cfg.lrn.alpha, cfg.lrn.beta, cfg.lrn.k))
        blocks: list[nn.Module] = []
        cin = cfg.stem_channels
        for t, c, n, s in cfg.blocks:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        head = [nn.Conv2d(cin, cfg.head_channels, 1, bias=False), nn.BatchNorm2d(cfg.head_channels), nn.ReLU6()]
        self.features = nn.Sequential(*stem, *blocks, *head)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cfg.head_channels, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def load_model(path: Path) -> SmallCnn:
    """The FP32 model with its shipped weights, in eval mode."""
    from safetensors.torch import load_file

    cfg = load_config(path)
    model = SmallCnn(cfg)
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ConfigError(
            f"model folder {path} has no model.safetensors: train it with python -m pte_stages.training.train_cnn"
        )
    model.load_state_dict(load_file(weights))
    return model.eval()


def stripes(cfg: CnnConfig, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One image per label, drawn from ``generator``: the class's grating plus nuisance variation."""
    c, h, w = cfg.image_shape
    n = len(labels)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    theta = labels.float() * math.pi / cfg.num_classes
    freq = 2.0 + 2.0 * torch.rand(n, generator=generator)
    phase = 2 * math.pi * torch.rand(n, generator=generator)
    contrast = 0.7 + 0.6 * torch.rand(n, generator=generator)
    along = xs[None] * torch.cos(theta)[:, None, None] + ys[None] * torch.sin(theta)[:, None, None]
    wave = torch.sin(math.pi * freq[:, None, None] * along + phase[:, None, None]) * contrast[:, None, None]
    colour = torch.tensor([PALETTE[int(k)] for k in labels])[:, :c]
    noise = 0.3 * torch.randn(n, c, h, w, generator=generator)
    return wave[:, None] * colour[:, :, None, None] + noise


def images(cfg: CnnConfig, data: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The deterministic set ``data`` names: ``[count, C, H, W]`` images and their labels."""
    labels = torch.arange(data.count) % cfg.num_classes
    return stripes(cfg, labels, torch.Generator().manual_seed(data.seed)), labels


def example_input(cfg: CnnConfig) -> tuple[torch.Tensor]:
    """The export's example input (shape only matters: the CNN is exported with static shapes)."""
    return (torch.zeros(cfg.input_shape),)


def top2_margin(logits: torch.Tensor) -> float:
    top = torch.topk(logits.flatten(), 2).values
    return float(top[0] - top[1])
