"""What the stages must know about a decoder architecture, in one registry keyed by the model
folder's ``config.json`` ``model_type``.

Most of a causal LM's export is generic: transformers' ``TorchExportableModuleForDecoderOnlyLM``
wraps it with a static KV cache held as buffers (a hybrid one when the config has ``layer_types``
and a ``sliding_window``), and ExecuTorch lowers the result. What is not generic, and what each
entry says:

- **positions**: ``derived`` when the model computes positions as ``arange(S) + past_seen_tokens``
  from the cache length; ``explicit`` when it must be handed ``position_ids`` by the export wrapper.
  OPT derives them by slicing a cumsum at ``past_seen_tokens``, an unbacked SymInt in the exported
  graph, and lowering then fails (known issue ``opt-position-slice-unbacked-symint``).
- **KV-cache layout**: how many layers own a K/V buffer pair. KV-sharing layers (Gemma 4's
  ``num_kv_shared_layers``) reuse an earlier layer's cache and get none, so the program's cache
  buffers number ``2 × (num_hidden_layers − num_kv_shared_layers)``, not ``2 × num_hidden_layers``.
- **sliding windows**: transformers' export wrapper replaces each sliding-window cache layer with a
  full-length one and the window is applied by the attention mask; the cost is ``max_seq_len``
  cached positions per sliding layer instead of ``window``, not correctness.
- **per-layer inputs** (Gemma 4's PLE, ``hidden_size_per_layer_input``): computed inside the
  graph from ``input_ids``, so the exported program takes ids, never ``inputs_embeds``.
- **where the decoder's config is**: a multimodal hub folder (Gemma 4's ``gemma4``,
  ``Gemma4Config``) nests it under ``text_config`` and loads as a different class.
- **learned absolute positions** (OPT): a table of ``max_position_embeddings`` rows bounds
  ``max_seq_len``.

An unregistered ``model_type`` goes through the generic path only when its config shows none of
the features above that the generic path gets wrong *silently or late* (a nested decoder config,
KV sharing, per-layer inputs) and transformers has a causal-LM class for it; otherwise
:func:`architecture_for` raises a :class:`ConfigError` (exit 2) naming the type and the entry to
add. Whether an unknown model derives its positions from the cache cannot be read from a config:
if it does not, lowering fails with the catalogued signature above, whose workaround is an entry
here with ``positions="explicit"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..contract import ConfigError

Positions = Literal["derived", "explicit"]
REGISTRY_FILE = "stages/pte_stages/modeling/architectures.py"


@dataclass(frozen=True)
class Architecture:
    """One ``model_type``: what the export wrapper, the cache check and the LLM metadata need."""

    model_type: str
    loads_as: str
    """The class ``AutoModelForCausalLM`` builds for this type (transformers 5.23.0)."""
    positions: Positions = "derived"
    decoder_config: str | None = None
    """Key of the nested decoder config (``text_config``), or None when the config is the decoder's."""
    kv_sharing: bool = False
    """Layers past ``num_hidden_layers − num_kv_shared_layers`` reuse an earlier layer's cache."""
    sliding_window: bool = False
    """Some layers attend within ``sliding_window`` (``layer_types``); enforced by the mask on export."""
    per_layer_inputs: bool = False
    """Per-layer input embeddings computed from ``input_ids`` inside the graph."""
    learned_positions: bool = False
    """An absolute position table: ``max_seq_len`` must not exceed ``max_position_embeddings``."""
    registered: bool = True
    """False for an unknown type accepted by the generic path (reported as such)."""
    notes: str = ""

    def kv_cache_layers(self, decoder: dict[str, Any]) -> int:
        """Layers that own a K/V buffer pair in the exported program."""
        layers = int(decoder["num_hidden_layers"])
        if self.kv_sharing:
            layers -= int(decoder.get("num_kv_shared_layers") or 0)
        return layers

    def check(self, decoder: dict[str, Any], max_seq_len: int, model_id: str) -> None:
        """Spec values this architecture cannot take, as a config error saying what to change."""
        if self.learned_positions:
            table = int(decoder.get("max_position_embeddings") or 0)
            if max_seq_len > table:
                raise ConfigError(
                    f"model {model_id} ({self.model_type}) has a learned position table of "
                    f"{table} rows (max_position_embeddings) but max_seq_len is {max_seq_len}",
                    hint=f"set the model's max_seq_len to at most {table}",
                )


_GEMMA4_NOTES = (
    "Gemma 4 E2B's decoder: per-layer input embeddings (PLE), sliding and full attention layers with "
    "different head_dim (global_head_dim, saved as per_layer_config), KV sharing (the last "
    "num_kv_shared_layers reuse the cache of the last unshared layer of their type), double-wide MLP in "
    "shared layers, final logit soft-capping. get_n_layers in the .pte stays num_hidden_layers, as "
    "ExecuTorch's own LLM export writes it; the cache holds fewer layers."
)

ARCHITECTURES: dict[str, Architecture] = {
    a.model_type: a
    for a in (
        Architecture(
            "llama",
            "LlamaForCausalLM",
            notes="Llama 3.2's tied embeddings and llama3 rope scaling need nothing from the stages: "
            "the rope frequencies are computed at load from rope_parameters.",
        ),
        Architecture(
            "opt",
            "OPTForCausalLM",
            positions="explicit",
            learned_positions=True,
            notes="OPTDecoder derives position_ids as cumsum(mask)[:, past_seen_tokens:]; with the static "
            "cache's length as an unbacked SymInt the slice fails edge lowering (torch 2.13.0, "
            "executorch 1.4.1), so the wrapper passes position_ids = cache_position.",
        ),
        Architecture(
            "gemma4_text",
            "Gemma4ForCausalLM",
            kv_sharing=True,
            sliding_window=True,
            per_layer_inputs=True,
            notes=_GEMMA4_NOTES,
        ),
        Architecture(
            "gemma4",
            "Gemma4ForConditionalGeneration",
            decoder_config="text_config",
            kv_sharing=True,
            sliding_window=True,
            per_layer_inputs=True,
            notes="The hub checkpoints (google/gemma-4-E2B[-it]): Gemma4Config with the decoder under "
            "text_config and optional vision/audio towers; AutoModelForCausalLM builds "
            "Gemma4ForConditionalGeneration, whose export goes through the decoder only. " + _GEMMA4_NOTES,
        ),
    )
}


def decoder_config(config: dict[str, Any]) -> dict[str, Any]:
    """The decoder's own config: ``text_config`` when the registry says the type nests it, or when
    an unknown type has one (so the refusal can name its fields), else the top level."""
    arch = ARCHITECTURES.get(str(config.get("model_type")))
    key = arch.decoder_config if arch is not None else ("text_config" if "text_config" in config else None)
    nested = config.get(key) if key else None
    return nested if isinstance(nested, dict) else config


def _causal_lm_class(model_type: str) -> str | None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    name = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(model_type)
    return name if isinstance(name, str) else None


def _generic_obstacles(config: dict[str, Any]) -> list[str]:
    """Why the generic path would get this config wrong: features that need a registry entry."""
    found = []
    if isinstance(config.get("text_config"), dict):
        found.append("its decoder config is nested under text_config (say decoder_config='text_config' and loads_as)")
    decoder = decoder_config(config)
    if decoder.get("num_kv_shared_layers"):
        found.append("layers share KV caches (num_kv_shared_layers; say kv_sharing=True)")
    if decoder.get("hidden_size_per_layer_input"):
        found.append("per-layer input embeddings (hidden_size_per_layer_input; say per_layer_inputs=True)")
    for key in ("num_hidden_layers", "vocab_size"):
        if not isinstance(decoder.get(key), int):
            found.append(f"its config has no integer {key}, which the LLM metadata needs")
    return found


def architecture_for(config: dict[str, Any], model_id: str) -> Architecture:
    """The registry's entry for ``config['model_type']``, a generic one for an unknown type the
    generic path handles, or a :class:`ConfigError` naming the type and what to add."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ConfigError(
            f"model {model_id}: config.json has no model_type, so its architecture is unknown",
            hint="save the model with transformers' save_pretrained, which writes model_type",
        )
    arch = ARCHITECTURES.get(model_type)
    if arch is not None:
        return arch
    known = ", ".join(sorted(ARCHITECTURES))
    loads_as = _causal_lm_class(model_type)
    obstacles = _generic_obstacles(config)
    if loads_as is None:
        obstacles.insert(0, "the installed transformers has no causal-LM class for it")
    if obstacles:
        raise ConfigError(
            f"model {model_id}: model_type {model_type!r} is not in the architecture registry ({known}) "
            f"and the generic decoder path cannot take it: {'; '.join(obstacles)}",
            hint=f"add an Architecture({model_type!r}, ...) entry to ARCHITECTURES in {REGISTRY_FILE} "
            "saying how its positions, KV cache and decoder config work",
        )
    return Architecture(
        model_type,
        loads_as or "unknown",
        registered=False,
        sliding_window=bool(config.get("layer_types")) and config.get("sliding_window") is not None,
        notes=f"not in the registry: exported through the generic path (as {known} would be without "
        "their entries); positions assumed derived from the cache length",
    )
