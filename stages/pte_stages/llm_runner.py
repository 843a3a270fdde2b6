"""Decode speed as ExecuTorch's own C++ runner delivers it, not as the farm's Python loop does.

``generate`` in :mod:`pte_stages.runtime` calls ``method.execute`` once per token from Python; on the
shipped tiny-llama about a quarter of each token it timed was that loop (tensor building, the
pybind call, argmax), so a real 5 % kernel slowdown showed as under 4 %. ``TextLLMRunner`` is the
code behind ``llama_main``, shipped in the executorch wheel as a Python binding: the loop, sampling
and KV-cache positions run in C++, and the farm's only cost per token is the callback that takes
its timestamp (``time.perf_counter_ns``; the runner's own ``Stats`` have millisecond resolution,
coarser than a whole decode of a short prompt).

The gate's token ids still come from the Python loop (the runner hands out decoded text, never
ids). Every timed run is checked against them: the runner is fed the prompt as text, and the
prompt must re-encode to the gated prompt's ids and the runner must count as many prompt tokens;
the runner must then emit as many tokens as the loop did, and their text must be the loop's ids
decoded. A mismatch is a :class:`StageError`, never a silent fallback. What makes the runner
unusable on this machine (no binding, no ``tokenizers``, no ``tokenizer.json``, a prompt that does
not survive decode and re-encode) is a fallback to the Python loop, recorded in the execute data
as ``timer: "python-loop"`` with the reason in ``timer_fallback``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import ConfigError, StageError

TIMER_RUNNER = "text-llm-runner"
TIMER_LOOP = "python-loop"
TIMERS = (TIMER_RUNNER, TIMER_LOOP)


@dataclass(frozen=True)
class RunnerRun:
    """One ``TextLLMRunner.generate`` of one prompt."""

    pieces: tuple[str, ...]
    """The text of each generated token, as the runner's token callback received it."""
    prefill_s: float
    """From the ``generate`` call to the first token's callback (tokenizing, prefill, first sample)."""
    decode_s: float
    """From the first token's callback to the last one's: ``len(pieces) - 1`` decoded tokens."""
    stats: dict[str, Any]
    """The runner's own ``Stats`` (millisecond timestamps), as its JSON."""

    @property
    def decoded(self) -> int:
        return len(self.pieces) - 1


def timer_choice(options: dict[str, Any]) -> str | None:
    """``spec.options["timer"]``: None (the runner where it can run) or a forced timer."""
    want = options.get("timer")
    if want is not None and want not in TIMERS:
        raise ConfigError(f"spec.options.timer is {want!r}; allowed: {', '.join(TIMERS)} (or leave it out)")
    return want


class RunnerTimer:
    """A loaded ``TextLLMRunner`` for one ``.pte``, and the text tokenizer that checks its output."""

    def __init__(self, runner: Any, config_type: Any, tokenizer: Any, bos_id: int | None, max_new: int, max_seq: int):
        self._runner, self._config_type, self._tok = runner, config_type, tokenizer
        self._bos, self._max_new, self._max_seq = bos_id, max_new, max_seq
        self._texts: dict[tuple[int, ...], tuple[str, int]] = {}

    def prepare(self, prompts: list[list[int]]) -> None:
        """Each prompt as the text the runner takes; :class:`Unusable` if one cannot be (before any rep)."""
        for p in prompts:
            self._texts[tuple(p)] = self._prompt_text(p)
        if prompts:
            # The runner loads its program on the first generate: that load is not a prefill.
            text, n_bos = self._texts[tuple(prompts[0])]
            self._runner.reset()
            self._runner.generate(text, self._config(1, n_bos, warming=True))

    def _config(self, max_new: int, n_bos: int, warming: bool = False) -> Any:
        return self._config_type(
            echo=False,
            max_new_tokens=max_new,
            seq_len=self._max_seq,
            temperature=0.0,  # greedy, as the Python loop and the reference
            num_bos=n_bos,
            num_eos=0,
            warming=warming,
        )

    def _prompt_text(self, prompt_ids: list[int]) -> tuple[str, int]:
        """The prompt as text without its BOS (the runner adds ``num_bos`` itself), and that count."""
        n_bos = 1 if self._bos is not None and prompt_ids[:1] == [self._bos] else 0
        body = prompt_ids[n_bos:]
        text: str = self._tok.decode(body, skip_special_tokens=False)
        again = list(self._tok.encode(text, add_special_tokens=False).ids)
        if again != body:
            raise Unusable(
                f"prompt ids {prompt_ids[:8]}… do not survive decode and re-encode ({again[:8]}…), "
                "so the runner, which takes text, would not see the gated prompt"
            )
        return text, n_bos

    def run(self, prompt_ids: list[int], expected_ids: list[int]) -> RunnerRun:
        """One timed generation of the prompt, checked against the Python loop's greedy ids."""
        text, n_bos = self._texts.get(tuple(prompt_ids)) or self._prompt_text(prompt_ids)
        stamps: list[int] = []
        pieces: list[str] = []
        stats: list[str] = []

        def on_token(piece: str) -> None:
            stamps.append(time.perf_counter_ns())
            pieces.append(piece)

        config = self._config(self._max_new, n_bos)
        self._runner.reset()
        t0 = time.perf_counter_ns()
        self._runner.generate(text, config, on_token, lambda s: stats.append(s.to_json_string()))
        if not pieces or not stats:
            raise StageError(f"TextLLMRunner generated nothing for prompt ids {prompt_ids[:8]}…")
        run = RunnerRun(
            pieces=tuple(pieces),
            prefill_s=(stamps[0] - t0) / 1e9,
            decode_s=(stamps[-1] - stamps[0]) / 1e9,
            stats=json.loads(stats[-1]),
        )
        self._check(prompt_ids, expected_ids, run)
        return run

    def _check(self, prompt_ids: list[int], expected_ids: list[int], run: RunnerRun) -> None:
        prompt_tokens = run.stats.get("prompt_tokens")
        if prompt_tokens != len(prompt_ids):
            raise StageError(
                f"TextLLMRunner counted {prompt_tokens} prompt tokens where the gated prompt has "
                f"{len(prompt_ids)} ({prompt_ids[:8]}…): its tokenizer does not see the same prompt"
            )
        want: str = self._tok.decode(expected_ids, skip_special_tokens=False)
        got = "".join(run.pieces)
        if len(run.pieces) != len(expected_ids) or got != want:
            raise StageError(
                f"TextLLMRunner's greedy output differs from the Python runtime's on the same .pte and prompt "
                f"({len(run.pieces)} vs {len(expected_ids)} tokens): runner {got[:120]!r}, Python loop "
                f"{want[:120]!r}; its timings would not be of the gated tokens"
            )


class Unusable(Exception):
    """The runner cannot time this model here; the message says why (recorded as the fallback reason)."""


def open_runner(pte: Path, model_dir: Path, manifest: dict[str, Any], max_new: int, max_seq: int) -> RunnerTimer:
    """A :class:`RunnerTimer` for ``pte``, or :class:`Unusable` with the reason."""
    tokenizer_json = model_dir / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise Unusable(f"{model_dir} has no tokenizer.json for the C++ runner")
    try:
        # First, as it is cheap: a runtime-only device environment (the emulated Pi 5's arm64 one) has
        # torch and executorch, the binding's .so included, but neither tokenizers nor transformers
        # (which the binding's package imports for its multimodal helpers); it times with the loop.
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise Unusable(f"no tokenizers package here to check the runner's text against the gated ids: {exc}") from exc
    try:
        from executorch.extension.llm.runner import GenerationConfig, TextLLMRunner
    except (ImportError, RuntimeError) as exc:
        raise Unusable(f"ExecuTorch's LLM runner binding cannot be imported here: {exc}") from exc
    try:
        runner = TextLLMRunner(str(pte), str(tokenizer_json))
    except RuntimeError as exc:
        raise Unusable(f"TextLLMRunner refused {pte.name}: {exc}") from exc
    bos = manifest.get("model", {}).get("bos_token_id")
    if bos is None:
        bos = _bos_from_config(model_dir)
    return RunnerTimer(runner, GenerationConfig, Tokenizer.from_file(str(tokenizer_json)), bos, max_new, max_seq)


def _bos_from_config(model_dir: Path) -> int | None:
    for name in ("generation_config.json", "config.json"):
        path = model_dir / name
        if path.is_file():
            bos = json.loads(path.read_text()).get("bos_token_id")
            if isinstance(bos, int) and not isinstance(bos, bool):
                return bos
    return None


def runner_timer(
    options: dict[str, Any],
    pte: Path,
    model_dir: Path,
    manifest: dict[str, Any],
    prompts: list[list[int]],
    max_new: int,
    max_seq: int,
) -> tuple[RunnerTimer | None, str | None]:
    """The runner timer, or None and why the Python loop times instead. ``options.timer`` forces
    either: ``python-loop`` always falls back, ``text-llm-runner`` makes an unusable runner an error."""
    choice = timer_choice(options)
    if choice == TIMER_LOOP:
        return None, "forced by spec.options.timer"
    try:
        timer = open_runner(pte, model_dir, manifest, max_new, max_seq)
        timer.prepare(prompts)
    except Unusable as exc:
        if choice == TIMER_RUNNER:
            raise StageError(f"spec.options.timer asks for {TIMER_RUNNER}, which cannot run here: {exc}") from exc
        return None, str(exc)
    return timer, None
