"""Loading a Hugging Face causal LM and exporting it with a static KV cache.

The same ``from_pretrained`` path serves the shipped tiny model and hub models (Gemma 4 E2B,
Llama 3.2 1B, OPT-125M) on real runners; tests run with the hub offline, so only local folders
load here.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from ..contract import ConfigError, ModelSpec, StageError
from .architectures import Architecture, architecture_for, decoder_config


def model_architecture(spec: ModelSpec) -> tuple[Architecture, dict[str, Any]]:
    """The folder's registry entry (:mod:`.architectures`) and its decoder config, checked against
    the spec; an architecture the stages cannot handle is a config error before anything loads."""
    path = spec.path / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model {spec.id}: cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"model {spec.id}: {path} is not a JSON object")
    arch = architecture_for(config, spec.id)
    decoder = decoder_config(config)
    arch.check(decoder, spec.max_seq_len, spec.id)
    return arch, decoder


def load_model(spec: ModelSpec) -> Any:
    """The FP32 eager model, in eval mode (after the architecture registry accepted the folder)."""
    from transformers import AutoModelForCausalLM

    model_architecture(spec)
    model = AutoModelForCausalLM.from_pretrained(spec.path, local_files_only=True, dtype=torch.float32)
    model.eval()
    return model


def load_tokenizer(spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(spec.path, local_files_only=True)


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Prompt ids as the model was trained to see them (the tokenizer adds BOS if it should)."""
    return [int(t) for t in tokenizer(prompt)["input_ids"]]


def pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """The text of each token alone, for gate messages."""
    return [tokenizer.decode([i]) for i in ids]


def _exportable(model: Any, max_seq_len: int, arch: Architecture) -> torch.nn.Module:
    """The module ``torch.export`` traces: transformers' wrapper, or for ``positions="explicit"``
    one that hands the model its positions (:class:`.positions.ExplicitPositions`)."""
    from transformers.integrations.executorch import TorchExportableModuleForDecoderOnlyLM

    model.generation_config.cache_implementation = "static"
    if arch.positions == "explicit":
        from .positions import ExplicitPositions

        return ExplicitPositions(model, batch_size=1, max_cache_len=max_seq_len)
    inner: torch.nn.Module = TorchExportableModuleForDecoderOnlyLM(model, batch_size=1, max_cache_len=max_seq_len).model
    return inner


def export_static_cache(model: Any, max_seq_len: int, arch: Architecture) -> torch.export.ExportedProgram:
    """``torch.export`` with a static KV cache held as module buffers and a dynamic sequence length.

    The signature matches ExecuTorch's LLM runner: ``forward(input_ids[1, S], cache_position[S])``
    returns logits ``[1, S, vocab]``; prefill passes the whole prompt, decode one token. The wrapper
    is the one the architecture needs (:mod:`.architectures`).
    """
    from torch.export import Dim

    wrapper = _exportable(model, max_seq_len, arch)
    seq = Dim("seq_len", min=1, max=max_seq_len - 1)
    example = torch.tensor([[1, 2, 3, 4]], dtype=torch.long)
    with torch.no_grad():
        # What TorchExportableModuleForDecoderOnlyLM.export does with these arguments.
        return torch.export.export(
            wrapper,
            args=(),
            kwargs={"input_ids": example, "cache_position": torch.arange(example.shape[1], dtype=torch.long)},
            dynamic_shapes={"input_ids": {1: seq}, "cache_position": {0: seq}},
            strict=True,
        )


def mutable_kv_buffers(program: torch.export.ExportedProgram, expected: int | None = None) -> int:
    """How many KV-cache buffers the functionalised program mutates; refuses a cache export lost,
    and a cache whose buffer count is not the ``expected`` one (two per layer that owns a cache,
    :meth:`.architectures.Architecture.kv_cache_layers`).

    When a cache keeps K/V as plain attributes, export lifts them as constants and lowering fails
    much later with ``Constant ... lifted_tensor_0 is mutated`` (UPSTREAM-ISSUES #2); catching it
    here names the real cause.
    """
    mutated = set(program.run_decompositions({}).graph_signature.buffers_to_mutate.values())
    kv = {b for b in program.graph_signature.buffers if "key_cache" in b or "value_cache" in b}
    if not kv or not kv <= mutated:
        raise StageError(
            f"the exported program does not mutate its KV cache as buffers (cache buffers {sorted(kv)}, "
            f"mutated {sorted(mutated)}): the cache would be baked in as constants",
            hint="use a cache that is an nn.Module with K/V registered as buffers",
        )
    if expected is not None and len(kv) != expected:
        raise StageError(
            f"the exported program has {len(kv)} KV-cache buffers ({sorted(kv)}) where the architecture "
            f"registry expects {expected}: the cache layout changed upstream or the registry entry is wrong",
            hint="check kv_sharing in stages/pte_stages/modeling/architectures.py against the model's cache",
        )
    return len(kv)
