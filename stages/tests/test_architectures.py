"""The architecture registry: what it accepts, what it refuses (exit 2, naming the model_type and
the entry to add), and the OPT export wrapper it selects, lowered for real."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import MODEL, make_spec, run_stage

from pte_stages.contract import ConfigError, ModelSpec, parse_spec
from pte_stages.modeling.architectures import ARCHITECTURES, architecture_for, decoder_config
from pte_stages.modeling.hf_lm import model_architecture

MODELS = MODEL.parent
REPO = MODELS.parents[1]


def config_of(folder: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MODELS / folder / "config.json").read_text())
    return loaded


def folder_with(tmp_path: Path, config: dict[str, Any]) -> Path:
    """A model folder holding only ``config``: the registry decides before anything else loads."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_an_unknown_model_type_fails_the_stage_with_exit_2_naming_it_and_the_registry(tmp_path: Path) -> None:
    config = {**config_of("tiny-llama"), "model_type": "tinyrwkv", "architectures": ["TinyRwkvForCausalLM"]}
    folder = folder_with(tmp_path / "model", config)
    spec = make_spec("export", model={"id": "rwkv-twin", "path": str(folder), "max_seq_len": 64})
    run = run_stage("export", spec, tmp_path / "export")
    assert run.code == 2, run.log[-2000:]
    error = run.result["error"]
    assert error["kind"] == "config"
    assert "model_type 'tinyrwkv' is not in the architecture registry" in error["message"]
    assert "no causal-LM class" in error["message"]
    assert "Architecture('tinyrwkv', ...)" in error["hint"] and "architectures.py" in error["hint"]


@pytest.mark.parametrize(
    ("model_type", "extra", "named"),
    [
        ("gemma3n_text", {"num_kv_shared_layers": 10}, "num_kv_shared_layers"),
        ("gemma3n_text", {"hidden_size_per_layer_input": 256}, "hidden_size_per_layer_input"),
        ("gemma3", {"text_config": {"num_hidden_layers": 2, "vocab_size": 512}}, "text_config"),
    ],
)
def test_an_unregistered_type_with_a_layout_the_generic_path_gets_wrong_is_refused(
    model_type: str, extra: dict[str, Any], named: str
) -> None:
    config = {**config_of("tiny-llama"), "model_type": model_type, **extra}
    with pytest.raises(ConfigError, match=rf"model_type '{model_type}' is not in the architecture registry") as err:
        architecture_for(config, "m")
    assert named in str(err.value)


def test_a_llama_shaped_config_of_an_unregistered_type_takes_the_generic_path() -> None:
    arch = architecture_for({**config_of("tiny-llama"), "model_type": "mistral"}, "m")
    assert (arch.registered, arch.loads_as, arch.positions, arch.kv_sharing) == (
        False,
        "MistralForCausalLM",
        "derived",
        False,
    )
    assert arch.kv_cache_layers(config_of("tiny-llama")) == 2


def test_every_shipped_lm_folder_is_registered() -> None:
    for folder in ("tiny-llama", "llama-3.2-tiny", "opt-tiny", "gemma-4-tiny"):
        assert architecture_for(config_of(folder), folder).registered, folder


def test_kv_sharing_layers_own_no_cache_in_the_twin_and_in_the_hub_shaped_config() -> None:
    twin = config_of("gemma-4-tiny")
    hub = {"model_type": "gemma4", "text_config": copy.deepcopy(twin), "vision_config": None, "audio_config": None}
    assert twin["num_hidden_layers"] == 5 and twin["num_kv_shared_layers"] == 2
    for config in (twin, hub):
        arch = architecture_for(config, "gemma")
        assert arch.kv_cache_layers(decoder_config(config)) == 3
    assert ARCHITECTURES["gemma4"].loads_as == "Gemma4ForConditionalGeneration"


def test_opt_max_seq_len_beyond_its_position_table_is_a_config_error() -> None:
    table = config_of("opt-tiny")["max_position_embeddings"]
    with pytest.raises(ConfigError, match=rf"learned position table of {table} rows"):
        model_architecture(ModelSpec("opt-tiny", MODELS / "opt-tiny", table + 1))
    model_architecture(ModelSpec("opt-tiny", MODELS / "opt-tiny", table))


# --- OPT through export and lowering: the registry's wrapper lowers, the generic one does not. ---

MAX_SEQ = 64
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def opt_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """opt-tiny exported with the registry's wrapper and with the generic one, each saved as a
    ``.pt2``: a lowering reloads its program (one in-memory program lowered twice fails,
    ``PendingUnbackedSymbolNotFound``, docs/research/twins-feasibility.md)."""
    from pte_stages.modeling.hf_lm import export_static_cache, load_model
    from pte_stages.programs import save_program

    root = tmp_path_factory.mktemp("opt")
    spec = ModelSpec("opt-tiny", MODELS / "opt-tiny", MAX_SEQ)
    arch, _ = model_architecture(spec)
    assert arch.positions == "explicit"
    paths = {}
    for name, used in (("registry", arch), ("generic", dataclasses.replace(arch, positions="derived"))):
        paths[name] = root / f"{name}.pt2"
        save_program(export_static_cache(load_model(spec), MAX_SEQ, used), paths[name])
    return paths


def _lower_portable(program_path: Path) -> Any:
    from pte_stages.lower import lower
    from pte_stages.programs import load_program

    raw = make_spec("lower", model={"id": "opt-tiny", "path": str(MODELS / "opt-tiny"), "max_seq_len": MAX_SEQ})
    return lower(load_program(program_path), parse_spec(raw, "lower"), [])[0]


def test_the_opt_wrapper_exports_a_program_that_lowers_and_generates_the_eager_tokens(
    opt_programs: dict[str, Path], tmp_path: Path
) -> None:
    from pte_stages.kinds.lm import greedy
    from pte_stages.modeling.hf_lm import encode_prompt, load_model, load_tokenizer
    from pte_stages.runtime import executorch_runtime, generate

    pte = tmp_path / "opt.pte"
    with pte.open("wb") as f:
        _lower_portable(opt_programs["registry"]).write_to_file(f)
    spec = ModelSpec("opt-tiny", MODELS / "opt-tiny", MAX_SEQ)
    tokenizer = load_tokenizer(spec)
    ids = encode_prompt(tokenizer, PROMPT)
    eager = greedy(load_model(spec), tokenizer, ids, 24)
    method = executorch_runtime().get().load_program(pte).load_method("forward")
    assert generate(method, ids, 24, MAX_SEQ, 2)["ids"] == eager["ids"]


def test_without_explicit_positions_opt_fails_lowering_with_the_catalogued_signature(
    opt_programs: dict[str, Path],
) -> None:
    catalogue = yaml.safe_load((REPO / "matrix" / "known-issues.yml").read_text())
    issue = next(i for i in catalogue["issues"] if i["id"] == "opt-position-slice-unbacked-symint")
    with pytest.raises(Exception) as err:  # the catalogue's signature is the assertion
        _lower_portable(opt_programs["generic"])
    text = f"{type(err.value).__name__}: {err.value}"
    assert any(re.search(s.get("regex") or re.escape(s["literal"]), text) for s in issue["signatures"]), text[:2000]
