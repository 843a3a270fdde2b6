"""Loading a Hugging Face causal LM and exporting it with a static KV cache.

The same ``from_pretrained`` path serves the shipped tiny model and hub models (Gemma 4 E2B,
Llama 3.2 1B, OPT-125M) on real runners; tests run with the hub offline, so only local folders
load here.
"""

from __future__ import annotations

from typing import Any

import torch

from ..contract import ModelSpec, StageError


def load_model(spec: ModelSpec) -> Any:
    """The FP32 eager model, in eval mode."""
    from transformers import AutoModelForCausalLM

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


def export_static_cache(model: Any, max_seq_len: int) -> torch.export.ExportedProgram:
    """``torch.export`` with a static KV cache held as module buffers and a dynamic sequence length.

    The signature matches ExecuTorch's LLM runner: ``forward(input_ids[1, S], cache_position[S])``
    returns logits ``[1, S, vocab]``; prefill passes the whole prompt, decode one token.
    """
    from torch.export import Dim
    from transformers.integrations.executorch import TorchExportableModuleForDecoderOnlyLM

    model.generation_config.cache_implementation = "static"
    wrapper = TorchExportableModuleForDecoderOnlyLM(model, batch_size=1, max_cache_len=max_seq_len)
    seq = Dim("seq_len", min=1, max=max_seq_len - 1)
    example = torch.tensor([[1, 2, 3, 4]], dtype=torch.long)
    with torch.no_grad():
        return wrapper.export(
            input_ids=example,
            cache_position=torch.arange(example.shape[1], dtype=torch.long),
            dynamic_shapes={"input_ids": {1: seq}, "cache_position": {0: seq}},
            strict=True,
        )


def mutable_kv_buffers(program: torch.export.ExportedProgram) -> int:
    """How many KV-cache buffers the functionalised program mutates; refuses a cache export lost.

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
    return len(kv)
