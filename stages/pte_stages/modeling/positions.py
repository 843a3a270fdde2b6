"""The export wrapper for architectures whose positions must be passed in (``positions="explicit"``
in :mod:`.architectures`).

transformers' ``TorchExportableModuleWithStaticCache.forward`` calls the model without positions,
so the model derives them from the cache. OPT does that as
``cumsum(ones(past_seen_tokens + S))[:, past_seen_tokens:]`` (``modeling_opt.py``), where
``past_seen_tokens`` is the static cache's ``get_seq_length()``: an ``.item()`` of a buffer, an
unbacked SymInt. ``torch.export`` accepts it; ExecuTorch's edge lowering decomposes the slice, guards
on ``start < 0`` and fails with ``GuardOnDataDependentSymNode`` (known issue
``opt-position-slice-unbacked-symint`` in ``matrix/known-issues.yml``). Passing
``position_ids = cache_position`` makes the model skip the derivation. The dead ``ones([1, past+S])``
stays in the graph; lowering accepts it.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.integrations.executorch import TorchExportableModuleWithStaticCache


class ExplicitPositions(TorchExportableModuleWithStaticCache):  # type: ignore[misc]
    """``TorchExportableModuleWithStaticCache`` whose forward also hands the model
    ``position_ids = cache_position[None]``; same buffers, signature and outputs otherwise."""

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache_position: torch.Tensor | None = None,
    ) -> Any:
        assert cache_position is not None, "the LLM runner's signature always passes cache_position"
        # As the parent does: the cache's length is the position of the first new token, so one
        # exported program serves several generations.
        layers: list[Any] = list(self.static_cache.layers)  # StaticLayer each (the parent's __init__)
        for layer in layers:
            layer.cumulative_length.copy_(cache_position[0])
        outs = self.model(
            input_ids=input_ids,
            inputs_embeds=inputs_embeds,
            attention_mask=None,
            past_key_values=self.static_cache,
            use_cache=True,
            position_ids=cache_position.unsqueeze(0),
        )
        return outs.logits
