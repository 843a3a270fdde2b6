"""The decoder LM's halves of the stages: greedy tokens, a static-KV-cache export, torchao recipes,
and decode speed measured with ExecuTorch's own C++ LLM runner, the gate's tokens from its Python
runtime (optionally base and head interleaved).

The reference comes from Hugging Face ``generate`` on the eager model, not from the exported graph,
so an export or lowering bug cannot hide in both. torchao recipes transform eager ``nn.Linear``
modules, so a quantized recipe loads the model, quantizes it and exports it the same way the export
stage does; the export's program is still an input, and its input signature must match.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..contract import ConfigError, Spec, StageError, sha256_file
from ..llm_metadata import llm_metadata
from ..llm_runner import TIMER_LOOP, TIMER_RUNNER, RunnerTimer, runner_timer
from ..modeling.hf_lm import (
    encode_prompt,
    export_static_cache,
    load_model,
    load_tokenizer,
    model_architecture,
    mutable_kv_buffers,
    pieces,
)
from ..numerics import compare, margin, top_logits
from ..probes.telemetry import cool_down, max_zone_c, rep_flags, snapshot
from ..programs import load_program, save_program
from ..recipes import recipe_for
from ..runtime import abba_order, executorch_runtime, generate, load_checked, peak_rss_mb


def greedy(model: Any, tokenizer: Any, prompt_ids: list[int], max_new_tokens: int) -> dict[str, Any]:
    """Greedy continuation with the smallest top-1 margin seen (how safe the argmax was), and each
    step's top logits for the numerics gate (:mod:`pte_stages.numerics`)."""
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt_ids]),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.pad_token_id,
        )
    ids = [int(t) for t in out.sequences[0, len(prompt_ids) :]]
    steps = [step[0] for step in out.logits]  # the raw logits of each step (what the .pte returns)
    return {
        "ids": ids,
        "pieces": pieces(tokenizer, ids),
        "min_margin": round(min(margin(s) for s in steps), 4),
        "logits_top": top_logits(steps),
    }


def export_to(model: Any, spec: Spec, out: Path, scheme: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """Shared by export and quantize: export with the architecture's wrapper, check the cache is
    mutable and laid out as the registry says (:mod:`pte_stages.modeling.architectures`), save, reload."""
    arch, decoder = model_architecture(spec.model)
    program = export_static_cache(model, spec.model.max_seq_len, arch)
    buffers = mutable_kv_buffers(program, expected=2 * arch.kv_cache_layers(decoder))
    path = out / "program.pt2"
    saved = save_program(program, path)
    data = {
        **saved,
        "max_seq_len": spec.model.max_seq_len,
        "mutable_buffers": buffers,
        "scheme": scheme,
        "architecture": {"model_type": arch.model_type, "registered": arch.registered, "positions": arch.positions},
    }
    return data, {"program": path}


def _user_inputs(path: Path) -> int:
    return sum(s.kind.name == "USER_INPUT" for s in load_program(path).graph_signature.input_specs)


METRICS = {
    "decode_tokens_per_sec": ("tok/s", "higher"),
    "prefill_tokens_per_sec": ("tok/s", "higher"),
    "first_token_ms": ("ms", "lower"),
    "model_load_ms": ("ms", "lower"),
    "peak_rss_mb": ("MB", "lower"),
}


class Role:
    """One ``.pte`` being measured: its loaded runtime, its samples, flags and telemetry so far.

    The Python loop (:func:`pte_stages.runtime.generate`) runs every rep for the gate's ids, its
    determinism check, the load time and peak RSS, as before. Decode, prefill and first-token times
    come from ExecuTorch's C++ runner run on the same prompts in the same rep, checked against those
    ids (:mod:`pte_stages.llm_runner`); where the runner cannot run, from the loop, and the data
    says which (``timer``).
    """

    def __init__(
        self, spec: Spec, pte: Path, manifest: dict[str, Any], runtime: Any, prompt_ids: list[list[int]]
    ) -> None:
        self.spec, self.pte, self.runtime = spec, pte, runtime
        self.eos = manifest.get("model", {}).get("eos_token_id")
        self.timer: RunnerTimer | None
        self.timer, self.timer_fallback = runner_timer(
            spec.options, pte, spec.model.path, manifest, prompt_ids, spec.max_new_tokens, spec.model.max_seq_len
        )
        self.runner_stats = {"generated_tokens": 0, "decode_ms": 0}
        if self.timer_fallback is not None:
            print(f"execute: {pte.name} timed by the Python loop: {self.timer_fallback}", file=sys.stderr)
        self.metrics: dict[str, dict[str, Any]] = {
            name: {"unit": unit, "better": better, "samples": [], "sample_flags": []}
            for name, (unit, better) in METRICS.items()
        }
        size = pte.stat().st_size
        self.metrics["pte_bytes"] = {"unit": "B", "better": "lower", "samples": [size], "sample_flags": [[]]}
        self.first: list[list[int]] | None = None
        self.numerics: dict[str, Any] | None = None
        self.telemetry: list[dict[str, Any]] = []
        self.measured = 0
        self.warmed = 0

    def rep(self, prompt_ids: list[list[int]], measured: bool, root: Path) -> None:
        """One rep: cool down, telemetry before, load + generate every prompt, telemetry after."""
        cd = self.spec.execute.cooldown
        waited, hot = (0.0, False)
        if cd is not None:
            waited, hot = cool_down(lambda: max_zone_c(root), cd.below_c, cd.max_wait_s, cd.poll_s)
        index = self.measured if measured else -(self.warmed + 1)  # warm-ups: -1, -2, ...
        before = snapshot(index, "before", root)
        before["cooldown_wait_s"] = waited
        t0 = time.perf_counter()
        method = self.runtime.load_program(self.pte).load_method("forward")
        load_ms = (time.perf_counter() - t0) * 1000
        max_new, max_seq = self.spec.max_new_tokens, self.spec.model.max_seq_len
        first = self.first is None
        kept: list[list[torch.Tensor]] = [[] for _ in prompt_ids]
        runs = [
            generate(method, p, max_new, max_seq, self.eos, kept[i] if first else None)
            for i, p in enumerate(prompt_ids)
        ]
        tokens = [r["ids"] for r in runs]
        if self.first is None:
            self.first = tokens
            self.numerics = self._numerics(tokens, kept)
        elif tokens != self.first:
            raise StageError(f"{self.pte.name}: a rep generated different tokens than the first: not deterministic")
        if self.timer is not None:
            timed = [self.timer.run(p, ids) for p, ids in zip(prompt_ids, tokens, strict=True)]
            runs = [
                {**r, "decode_s": t.decode_s, "prefill_s": t.prefill_s, "stats": t.stats}
                for r, t in zip(runs, timed, strict=True)
            ]
        after = snapshot(index, "after", root)
        if not measured:
            self.warmed += 1
            return
        decoded = sum(len(r["ids"]) - 1 for r in runs)
        if decoded == 0:
            raise StageError(
                "no prompt decoded past its first token (end of sequence at once, or max_new_tokens=1): "
                "decode speed cannot be measured; use prompts the model continues, and max_new_tokens >= 2"
            )
        if self.timer is not None:
            for r in runs:  # the runner's own millisecond clock over the same generations, summed
                self.runner_stats["generated_tokens"] += int(r["stats"]["generated_tokens"])
                self.runner_stats["decode_ms"] += int(r["stats"]["inference_end_ms"]) - int(
                    r["stats"]["prompt_eval_end_ms"]
                )
        decode_s = sum(r["decode_s"] for r in runs)
        prefill_s = sum(r["prefill_s"] for r in runs)
        samples = {
            "decode_tokens_per_sec": decoded / decode_s,
            "prefill_tokens_per_sec": sum(r["prompt_len"] for r in runs) / prefill_s,
            "first_token_ms": 1000 * prefill_s / len(runs),
            "model_load_ms": load_ms,
            "peak_rss_mb": peak_rss_mb(),
        }
        flags = rep_flags([before, after], hot=hot)
        for name, value in samples.items():
            self.metrics[name]["samples"].append(round(value, 4))
            self.metrics[name]["sample_flags"].append(list(flags))
        self.telemetry += [before, after]
        self.measured += 1

    def _numerics(self, tokens: list[list[int]], logits: list[list[torch.Tensor]]) -> dict[str, Any] | None:
        """The first rep's logits against the reference's (the rest are the same: determinism is checked)."""
        refs = self.spec.execute.reference_logits
        if not refs:
            return None
        if len(refs) != len(tokens):
            raise StageError(f"spec.execute.reference_logits has {len(refs)} prompts, the execute {len(tokens)}")
        kinds = {str(r.get("reference")) for r in refs}
        return {
            "reference": kinds.pop() if len(kinds) == 1 else "mixed",
            "top_k": min((len(r["top"]["ids"][0]) for r in refs if r["top"]["ids"]), default=0),
            "prompts": [
                compare(r["top"], [int(t) for t in r["ids"]], steps, ids)
                for r, steps, ids in zip(refs, logits, tokens, strict=True)
            ],
        }

    def data(self, prompt_ids: list[list[int]]) -> dict[str, Any]:
        assert self.first is not None
        try:
            tokenizer = load_tokenizer(self.spec.model)
        except ModuleNotFoundError as exc:
            # A runtime-only device environment (the emulated arm64 one) has ExecuTorch and torch, not
            # transformers: its tokens are ids only, and gate messages show the reference's text.
            if exc.name != "transformers":
                raise
            tokenizer = None
        prompts = [
            {"prompt_ids": p, "ids": ids, "pieces": [] if tokenizer is None else pieces(tokenizer, ids)}
            for p, ids in zip(prompt_ids, self.first, strict=True)
        ]
        return {
            "prompts": prompts,
            "reps": self.spec.execute.reps,
            "warmup": self.spec.execute.warmup,
            "metrics": self.metrics,
            "telemetry": self.telemetry,
            **({} if self.numerics is None else {"numerics": self.numerics}),
            "timer": TIMER_LOOP if self.timer is None else TIMER_RUNNER,
            **({} if self.timer_fallback is None else {"timer_fallback": self.timer_fallback}),
            **({} if self.timer is None else {"runner_stats": self.runner_stats}),
        }


@dataclass(frozen=True)
class DecoderLm:
    """A Hugging Face causal LM folder (``decoder-lm``), loaded with ``from_pretrained``."""

    def reference(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """FP32 eager greedy tokens per prompt, and the eager quantized model's for a quantized recipe."""
        recipe = recipe_for(spec.recipe)
        if not spec.prompts:
            raise ConfigError("spec.prompts is empty: the reference needs at least one prompt")
        model = load_model(spec.model)
        tokenizer = load_tokenizer(spec.model)
        recipe.check(spec.recipe, model)
        prompts: list[dict[str, Any]] = []
        for prompt in spec.prompts:
            ids = encode_prompt(tokenizer, prompt)
            if len(ids) + spec.max_new_tokens > spec.model.max_seq_len:
                raise ConfigError(
                    f"prompt {prompt!r} is {len(ids)} tokens; with max_new_tokens={spec.max_new_tokens} it "
                    f"exceeds max_seq_len={spec.model.max_seq_len}: shorten it or raise max_seq_len"
                )
            prompts.append(
                {"prompt": prompt, "prompt_ids": ids, "fp32": greedy(model, tokenizer, ids, spec.max_new_tokens)}
            )
        if recipe.quantized:
            recipe.apply(spec.recipe, model)
        for entry in prompts:
            quantized = recipe.quantized and greedy(model, tokenizer, entry["prompt_ids"], spec.max_new_tokens)
            entry["quantized"] = quantized or None
        return {"prompts": prompts}, {}

    def export(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """The FP32 model with a static KV cache, through ``torch.export``, saved and verified."""
        return export_to(load_model(spec.model), spec, out, "fp32")

    def quantize(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """``fp32`` passes the export's program through; a torchao recipe re-exports the quantized model."""
        recipe = recipe_for(spec.recipe)
        source = spec.input("program")
        path = out / "program.pt2"
        if not recipe.quantized:
            shutil.copyfile(source, path)
            data = {
                "sha256": sha256_file(path),
                "bytes": path.stat().st_size,
                "max_seq_len": spec.model.max_seq_len,
                "mutable_buffers": None,
                "scheme": spec.recipe.scheme,
            }
            return data, {"program": path}
        model = load_model(spec.model)
        recipe.check(spec.recipe, model)
        recipe.apply(spec.recipe, model)
        data, files = export_to(model, spec, out, spec.recipe.scheme)
        fp32_inputs, q_inputs = (_user_inputs(p) for p in (source, files["program"]))
        if fp32_inputs != q_inputs:
            raise StageError(f"the quantized program takes {q_inputs} user inputs, the FP32 export {fp32_inputs}")
        return data, files

    def execute(self, spec: Spec, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
        """Warm-up plus ``reps`` measured reps; with a base ``.pte``, both interleaved in ABBA order."""
        head_pte, head_manifest = load_checked(spec, "pte", "manifest")
        interleave = "base_pte" in spec.inputs or "base_manifest" in spec.inputs
        base = load_checked(spec, "base_pte", "base_manifest") if interleave else None
        prompt_ids = [list(p) for p in spec.execute.prompt_ids]
        if not prompt_ids:
            raise StageError("spec.execute.prompt_ids is empty: run the reference stage first")
        runtime = executorch_runtime().get()
        # Tests point telemetry at a fake sysfs tree; production reads the real one.
        root = Path(str(spec.options.get("telemetry_root", "/")))
        head = Role(spec, head_pte, head_manifest, runtime, prompt_ids)
        if base is None:
            for rep in range(spec.execute.warmup + spec.execute.reps):
                head.rep(prompt_ids, rep >= spec.execute.warmup, root)
            return head.data(prompt_ids), {}
        roles = {"base": Role(spec, base[0], base[1], runtime, prompt_ids), "head": head}
        for _ in range(spec.execute.warmup):
            for r in ("base", "head"):
                roles[r].rep(prompt_ids, False, root)
        order = abba_order(spec.execute.reps)
        for r in order:
            roles[r].rep(prompt_ids, True, root)
        data = head.data(prompt_ids)
        data["base"] = roles["base"].data(prompt_ids)
        data["order"] = order
        return data, {}

    def constant_methods(self, spec: Spec, program: torch.export.ExportedProgram) -> dict[str, Any] | None:
        """The metadata methods ExecuTorch's C++ LLM runner reads (:mod:`pte_stages.llm_metadata`)."""
        return llm_metadata(spec, program)

    def manifest_model(self, spec: Spec, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": spec.model.id,
            "max_seq_len": spec.model.max_seq_len,
            "vocab_size": config.get("vocab_size"),
            "eos_token_id": config.get("eos_token_id"),
        }

    def bundle_cases(
        self, spec: Spec, program: torch.export.ExportedProgram
    ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """None: no runner checks an LM's bundled outputs, so an LM gets no ``.bpte``."""
        return None
