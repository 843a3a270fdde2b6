"""The contract helpers that every stage shares."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from conftest import make_spec

from pte_stages.contract import ConfigError, blame, parse_spec, run_stage


def test_blame_names_the_deepest_installed_package() -> None:
    import io

    import torch

    try:
        torch.export.load(io.BytesIO(b"not a zip archive"))
    except Exception as exc:  # noqa: BLE001 - torch raises zipfile.BadZipFile from its fallback reader
        package, version = blame(exc)
    # The installed torch, whichever toolchain this suite runs on (no pinned version written here).
    assert package == "torch" and version == importlib.metadata.version("torch")


def test_parse_spec_names_the_field_with_the_wrong_type() -> None:
    spec = make_spec("export")
    spec["max_new_tokens"] = "24"
    with pytest.raises(ConfigError, match="max_new_tokens has the wrong type"):
        parse_spec(spec, "export")


def test_a_stage_error_writes_a_whole_result_and_exits_with_its_kind(tmp_path: Path) -> None:
    def boom(spec, out):  # type: ignore[no-untyped-def]
        raise MemoryError("no room")

    (tmp_path / "spec.json").write_text(json.dumps(make_spec("export")))
    code = run_stage("export", boom, ["--spec", str(tmp_path / "spec.json"), "--out", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    assert code == 3 and result["error"]["kind"] == "infra" and result["status"] == "failed"
    assert not list(tmp_path.glob(".result.json.*"))
