"""The constant methods ExecuTorch's C++ LLM runner reads from a decoder LM's ``.pte``.

``llama_main`` (``TextLLMRunner``, extension/llm/runner/llm_runner_helper.cpp) refuses a program
without ``get_max_seq_len`` and takes ``get_max_context_len``, ``use_kv_cache``,
``use_sdpa_with_kv_cache``, ``enable_dynamic_shape`` and ``get_eos_ids`` from it, falling back to
defaults that are wrong for most models. ExecuTorch's own LLM export writes the same names
(export_llama_lib's ``_load_llama_model_metadata`` plus ``get_bos_id``/``get_eos_ids``), so a
``.pte`` from this farm runs under the runner people deploy.
"""

from __future__ import annotations

import json
from typing import Any

from .contract import ConfigError, Spec
from .modeling.architectures import architecture_for, decoder_config


def _ids(value: Any, what: str, model: str) -> list[int]:
    if isinstance(value, bool) or value is None:
        raise ConfigError(
            f"model {model} has no {what}: the LLM runner needs it",
            hint=f"set {what} in the model folder's generation_config.json or config.json",
        )
    ids = [value] if isinstance(value, int) else value
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ConfigError(f"model {model}: {what} must be a token id or a list of them, got {value!r}")
    return ids


def _dynamic_seq(program: Any) -> bool:
    """Whether the program's first user input (``input_ids[1, S]``) has a symbolic length."""
    import torch

    names = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in names:
            val = node.meta.get("val")
            return val is not None and any(isinstance(d, torch.SymInt) for d in val.shape)
    return False


def llm_metadata(spec: Spec, program: Any) -> dict[str, Any]:
    """Values from the model folder (eos from the generation config, as ``generate`` uses it) and
    from the exported program itself (its KV-cache buffers and dynamic sequence length)."""
    folder = spec.model.path
    config = json.loads((folder / "config.json").read_text())
    # Multimodal configs (the hub's Gemma 4) nest the decoder's; the registry says where.
    architecture_for(config, spec.model.id)
    text = decoder_config(config)
    gen_path = folder / "generation_config.json"
    generation = json.loads(gen_path.read_text()) if gen_path.is_file() else {}

    def pick(key: str) -> Any:
        for source in (generation, text, config):
            if source.get(key) is not None:
                return source[key]
        return None

    buffers = program.graph_signature.buffers
    kv = any("key_cache" in b or "value_cache" in b for b in buffers)
    return {
        "get_max_seq_len": spec.model.max_seq_len,
        "get_max_context_len": spec.model.max_seq_len,
        # The model's layers, as ExecuTorch's LLM export writes it; with KV sharing (Gemma 4) fewer
        # layers own a cache (Architecture.kv_cache_layers), which the runner never reads from here.
        "get_n_layers": int(text["num_hidden_layers"]),
        "get_vocab_size": int(text["vocab_size"]),
        "use_kv_cache": kv,
        # The attention is Hugging Face's, not ExecuTorch's custom sdpa_with_kv_cache op.
        "use_sdpa_with_kv_cache": False,
        "enable_dynamic_shape": _dynamic_seq(program),
        "get_bos_id": _ids(pick("bos_token_id"), "bos_token_id", spec.model.id)[0],
        "get_eos_ids": _ids(pick("eos_token_id"), "eos_token_id", spec.model.id),
    }
