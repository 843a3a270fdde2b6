"""Bad input, corrupted artefacts and wrong toolchains are refused with messages that say what to fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Chain, execute_spec, make_spec, run_stage


def _prompt_ids(chain: Chain) -> list[list[int]]:
    return [p["prompt_ids"] for p in chain.reference.result["data"]["prompts"]]


def test_execute_refuses_a_corrupted_pte_before_loading_it(fp32_portable: Chain, tmp_path: Path) -> None:
    pte = tmp_path / "model.pte"
    blob = bytearray((fp32_portable.lower.out / "model.pte").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    pte.write_bytes(bytes(blob))
    spec = execute_spec(fp32_portable.lower.out, "fp32", "portable", _prompt_ids(fp32_portable), pte=pte)
    run = run_stage("execute", spec, tmp_path / "out")
    assert run.code == 3
    err = run.result["error"]
    assert err["kind"] == "infra" and "does not match the manifest" in err["message"]
    assert "rebuild" in err["hint"]


def test_execute_refuses_a_toolchain_mismatch_naming_both_versions(fp32_portable: Chain, tmp_path: Path) -> None:
    manifest = json.loads((fp32_portable.lower.out / "manifest.json").read_text())
    here = manifest["toolchain"]["torch"]
    manifest["toolchain"]["torch"] = "2.12.0+cpu"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    spec = execute_spec(fp32_portable.lower.out, "fp32", "portable", _prompt_ids(fp32_portable), manifest=path)
    run = run_stage("execute", spec, tmp_path / "out")
    assert run.code == 3
    message = run.result["error"]["message"]
    assert "toolchain mismatch" in message
    assert "torch 2.12.0+cpu (build)" in message and f"{here} (this device)" in message


def test_lower_on_a_truncated_program_fails_with_the_upstream_zip_signature(
    fp32_portable: Chain, tmp_path: Path
) -> None:
    src = (fp32_portable.export.out / "program.pt2").read_bytes()
    truncated = tmp_path / "program.pt2"
    truncated.write_bytes(src[: len(src) // 2])  # what torch.export.save did to >2 GB files (UPSTREAM #4)
    run = run_stage("lower", make_spec("lower", inputs={"program": str(truncated)}), tmp_path / "out")
    assert run.code == 1
    assert "failed finding central directory" in run.log
    assert run.result["error"]["package"] == "torch"
    assert not (tmp_path / "out" / "model.pte").exists()


def test_unreadable_spec_exits_2(tmp_path: Path) -> None:
    run = run_stage("export", "{not json", tmp_path)
    assert run.code == 2
    assert run.result["error"]["kind"] == "config" and "cannot read spec" in run.result["error"]["message"]


def test_unknown_recipe_scheme_exits_2_listing_the_known_ones(tmp_path: Path) -> None:
    spec = make_spec("reference")
    spec["recipe"] = {"name": "nf4", "scheme": "nf4"}
    run = run_stage("reference", spec, tmp_path)
    assert run.code == 2
    assert "unknown scheme 'nf4'; known schemes: 8da4w, fp32" in run.result["error"]["message"]


def test_group_size_that_does_not_divide_a_linear_exits_2(tmp_path: Path) -> None:
    spec = make_spec("reference")
    spec["recipe"] = {"name": "8da4w-g96", "scheme": "8da4w", "group_size": 96}
    run = run_stage("reference", spec, tmp_path)
    assert run.code == 2
    assert "group_size must be one of" in run.result["error"]["message"]


def test_missing_model_folder_exits_2_naming_the_path(tmp_path: Path) -> None:
    spec = make_spec("export")
    spec["model"]["path"] = str(tmp_path / "no-such-model")
    run = run_stage("export", spec, tmp_path / "out")
    assert run.code == 2
    assert str(tmp_path / "no-such-model") in run.result["error"]["message"]
    assert "Hugging Face model folder" in run.result["error"]["message"]


def test_spec_for_another_stage_exits_2(tmp_path: Path) -> None:
    run = run_stage("lower", make_spec("export"), tmp_path)
    assert run.code == 2 and "this is the lower stage" in run.result["error"]["message"]


@pytest.mark.parametrize("missing", ["pte", "manifest"])
def test_execute_without_its_inputs_exits_2(tmp_path: Path, missing: str) -> None:
    spec = make_spec(
        "execute",
        inputs={"pte": str(tmp_path / "a.pte"), "manifest": str(tmp_path / "m.json")},
        execute={"prompt_ids": [[1, 2]]},
    )
    if missing == "manifest":
        (tmp_path / "a.pte").write_bytes(b"x")
    run = run_stage("execute", spec, tmp_path / "out")
    assert run.code == 2 and f"spec.inputs.{missing}" in run.result["error"]["message"]


def test_model_without_a_tokenizer_is_a_stage_failure_blamed_on_transformers(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(Path(make_spec("export")["model"]["path"]), model)
    for f in model.glob("tokenizer*"):
        f.unlink()
    spec = make_spec("reference")
    spec["model"]["path"] = str(model)
    run = run_stage("reference", spec, tmp_path / "out")
    assert run.code == 1
    assert run.result["error"]["package"] in {"transformers", "tokenizers"}
    assert run.result["error"]["package_version"] not in {"local", "unknown"}
