"""Exported programs (``.pt2``) on disk: saved so a truncated file cannot pass, loaded so
torchao's quantization ops resolve. Every stage that hands a program to the next goes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .contract import sha256_file


def save_program(program: torch.export.ExportedProgram, path: Path) -> dict[str, Any]:
    """Save through an open file handle, then reload to prove the file is whole.

    ``torch.export.save(ep, pathlib.Path)`` over 2 GB has written zips without a central
    directory and reported success (UPSTREAM-ISSUES #4); a file handle and a reload avoid and
    detect that.
    """
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("wb") as f:
        torch.export.save(program, f)
        f.flush()
    load_program(tmp)
    tmp.replace(path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def load_program(path: Path) -> torch.export.ExportedProgram:
    """Load a saved program; torchao is imported first so its quantization ops resolve."""
    import torchao  # noqa: F401

    with path.open("rb") as f:
        return torch.export.load(f)
