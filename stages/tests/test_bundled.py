"""The bundled programs (``.bpte``) the lower stage writes for Ethos-U, for the FVP's BundleIO runner.

The Ethos-U delegate cannot run on this host, so an Ethos-U ``.bpte`` is checked for what it
carries (the ``.pte``'s exact program, one test case per evaluation image, the quantized model's
outputs); the mechanism itself (bundled inputs in, outputs checked against the bundle) is run by
ExecuTorch's runtime on a portable lowering of the same quantized CNN, through the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from cnn_support import MODELS_DIR, CnnBuild, cnn_spec
from test_ethos_u import ETHOS_U

from pte_stages.bundled import cnn_test_cases, write_bpte
from pte_stages.contract import parse_spec
from pte_stages.modeling import small_cnn as model_lib
from pte_stages.programs import load_program


def _bundle(path: Path) -> Any:
    from executorch.devtools.bundled_program.serialize import deserialize_from_flatbuffer_to_bundled_program

    return deserialize_from_flatbuffer_to_bundled_program(path.read_bytes())


def _tensor(value: Any) -> torch.Tensor:
    """A bundled tensor (schema form) back to a torch tensor."""
    t = value.val
    return torch.frombuffer(bytearray(t.data), dtype=torch.float32).reshape(t.sizes)


@pytest.mark.parametrize("backend", ETHOS_U)
def test_an_ethos_u_build_has_a_bpte_of_its_pte_with_the_quantized_model_outputs_per_eval_image(
    cnn: dict[str, CnnBuild],
    backend: str,
) -> None:
    from executorch.extension.pybindings.portable_lib import _load_bundled_program_from_buffer

    build = cnn["small-cnn"]
    low = build.lower[backend]
    bpte = low.out / "model.bpte"
    manifest = json.loads((low.out / "manifest.json").read_text())
    assert manifest["bpte"] == {
        "file": "model.bpte",
        "sha256": low.result["artefacts"]["bpte"]["sha256"],
        "bytes": bpte.stat().st_size,
        "method": "forward",
        "test_cases": 10,
    }
    bundle = _bundle(bpte)
    assert bytes(bundle.program) == (low.out / "model.pte").read_bytes()
    [suite] = bundle.method_test_suites
    assert suite.method_name == "forward" and len(suite.test_cases) == 10
    # The expected outputs are the quantize stage's INT8 program run in PyTorch, image by image.
    program = load_program(build.quantize.out / "program.pt2").module()
    cfg = model_lib.load_config(MODELS_DIR / "small-cnn")
    images, _ = model_lib.images(cfg, cfg.eval)
    for image, case in zip(images, suite.test_cases, strict=True):
        assert torch.equal(_tensor(case.inputs[0]), image[None])
        with torch.no_grad():
            assert torch.equal(_tensor(case.expected_outputs[0]), program(image[None]))
    # ExecuTorch's runtime parses it as a bundled program (running it needs the Ethos-U delegate).
    _load_bundled_program_from_buffer(bpte.read_bytes())


def test_a_tosa_build_has_no_bpte(cnn: dict[str, CnnBuild]) -> None:
    low = cnn["small-cnn"].lower["tosa"]
    assert not (low.out / "model.bpte").exists()
    assert "bpte" not in json.loads((low.out / "manifest.json").read_text())
    assert "bpte" not in low.result["artefacts"]


@dataclass
class PortableBundle:
    et: Any
    cases: list[tuple[torch.Tensor, torch.Tensor]]
    path: Path


@pytest.fixture(scope="module")
def portable(cnn: dict[str, CnnBuild], tmp_path_factory: pytest.TempPathFactory) -> PortableBundle:
    """The small CNN's FP32 export lowered to portable kernels and bundled by ``write_bpte`` with
    ``cnn_test_cases``: the code path of an Ethos-U build, on a backend this host runs. (FP32: the
    INT8 program lowered to portable kernels gives outputs off by up to ~250 quanta from the same
    program in PyTorch, with or without a bundle, so it cannot show the check passing.)"""
    from pte_stages.lower import lower

    raw = cnn_spec("lower", "small-cnn", "tosa")
    raw["backend"] = {"name": "portable", "kind": "portable"}
    spec = parse_spec(raw, "lower")
    program = load_program(cnn["small-cnn"].export.out / "program.pt2")
    cases = cnn_test_cases(spec, program)
    et, _ = lower(program, spec, [])
    path = tmp_path_factory.mktemp("portable-bpte") / "model.bpte"
    write_bpte(et, cases, path)
    return PortableBundle(et, cases, path)


def _verify(path: Path, index: int) -> list[Any]:
    """ExecuTorch's BundledModule: load test case ``index``'s inputs, run ``forward`` and check its
    outputs, with the same C++ (devtools/bundled_program) the FVP's BundleIO runner calls."""
    from executorch.extension.pybindings.portable_lib import _load_bundled_program_from_buffer

    bundle = _load_bundled_program_from_buffer(path.read_bytes())
    return bundle.verify_result_with_bundled_expected_output("forward", index, rtol=1e-5, atol=1e-5)


def test_the_portable_runtime_runs_a_bpte_and_its_outputs_match_every_bundled_expectation(
    portable: PortableBundle,
) -> None:
    for i, (_, expected) in enumerate(portable.cases):
        [out] = _verify(portable.path, i)
        assert torch.allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_the_bundled_check_fails_when_the_outputs_differ_from_the_expected_ones(
    portable: PortableBundle, tmp_path: Path
) -> None:
    """The same program with each expected output moved by 0.01: the runtime must refuse it."""
    write_bpte(portable.et, [(x, y + 0.01) for x, y in portable.cases], tmp_path / "wrong.bpte")
    with pytest.raises(RuntimeError, match="Result verification failed"):
        _verify(tmp_path / "wrong.bpte", 0)
