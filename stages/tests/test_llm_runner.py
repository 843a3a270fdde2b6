"""The runner timer's checks and fallbacks, without building a ``.pte``: a recording stand-in for
``TextLLMRunner`` and the shipped model's real tokenizer (the stage itself: test_interleave.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL
from tokenizers import Tokenizer

from pte_stages.contract import ConfigError, StageError
from pte_stages.llm_runner import RunnerTimer, Unusable, runner_timer, timer_choice

TOK = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
PROMPT = [1, *TOK.encode("The capital of France is", add_special_tokens=False).ids]
GREEDY = TOK.encode(" Paris . Paris lies on the Seine", add_special_tokens=False).ids


class Stats:
    def __init__(self, prompt_tokens: int, generated: int) -> None:
        self.data = {"prompt_tokens": prompt_tokens, "generated_tokens": generated}

    def to_json_string(self) -> str:
        return json.dumps(self.data)


class FakeRunner:
    """Emits ``ids`` decoded one by one, and counts the prompt as the C++ tokenizer would."""

    def __init__(self, ids: list[int]) -> None:
        self.ids, self.extra_prompt_tokens = ids, 0
        self.calls: list[tuple[str, Any]] = []

    def reset(self) -> None:
        pass

    def generate(self, text: str, config: Any, on_token: Any = None, on_stats: Any = None) -> None:
        self.calls.append((text, config))
        n_prompt = self.extra_prompt_tokens + config["num_bos"] + len(TOK.encode(text, add_special_tokens=False).ids)
        if on_token is not None:
            for i in self.ids[: config["max_new_tokens"]]:
                on_token(TOK.decode([i], skip_special_tokens=False))
        if on_stats is not None:
            on_stats(Stats(n_prompt, len(self.ids) - 1))


def _timer(ids: list[int]) -> tuple[RunnerTimer, FakeRunner]:
    fake = FakeRunner(ids)
    return RunnerTimer(fake, lambda **kw: kw, TOK, 1, 24, 128), fake


def test_feeds_the_prompt_as_text_with_its_bos_and_times_the_gated_tokens() -> None:
    timer, fake = _timer(GREEDY)
    timer.prepare([PROMPT])
    run = timer.run(PROMPT, GREEDY)
    text, config = fake.calls[-1]
    assert text == "The capital of France is" and config["num_bos"] == 1 and config["temperature"] == 0.0
    assert fake.calls[0][1]["warming"] and fake.calls[0][1]["max_new_tokens"] == 1  # the load, untimed
    assert run.decoded == len(GREEDY) - 1 and run.decode_s > 0 and run.prefill_s > 0


def test_a_runner_that_generates_other_tokens_than_the_python_loop_is_an_error() -> None:
    other = [*GREEDY[:-1], GREEDY[-1] + 1]
    timer, _ = _timer(other)
    with pytest.raises(StageError, match="differs from the Python runtime's"):
        timer.run(PROMPT, GREEDY)


def test_a_runner_whose_tokenizer_counts_another_prompt_length_is_an_error() -> None:
    timer, fake = _timer(GREEDY)
    fake.extra_prompt_tokens = 1  # e.g. a C++ tokenizer that adds a BOS of its own
    with pytest.raises(StageError, match="prompt tokens"):
        timer.run(PROMPT, GREEDY)


def test_prompt_ids_that_do_not_survive_decode_and_encode_fall_back_before_any_rep(tmp_path: Path) -> None:
    a, n = TOK.token_to_id("a"), TOK.token_to_id("n")
    assert TOK.encode("an", add_special_tokens=False).ids != [a, n]  # the text re-encodes as one token
    timer, _ = _timer(GREEDY)
    with pytest.raises(Unusable, match="re-encode"):
        timer.prepare([[1, a, n]])


def test_a_runtime_only_environment_falls_back_to_the_python_loop_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "executorch.extension.llm.runner", None)
    timer, why = runner_timer({}, tmp_path / "model.pte", MODEL, {}, [PROMPT], 24, 128)
    assert timer is None and why is not None and "cannot be imported" in why
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # the emulated Pi 5's environment has neither
    timer, why = runner_timer({}, tmp_path / "model.pte", MODEL, {}, [PROMPT], 24, 128)
    assert timer is None and why is not None and "no tokenizers package" in why


def test_a_model_without_tokenizer_json_falls_back(tmp_path: Path) -> None:
    timer, why = runner_timer({}, tmp_path / "model.pte", tmp_path, {}, [PROMPT], 24, 128)
    assert timer is None and why is not None and "tokenizer.json" in why


def test_a_forced_runner_that_cannot_run_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="cannot run here"):
        runner_timer({"timer": "text-llm-runner"}, tmp_path / "model.pte", tmp_path, {}, [PROMPT], 24, 128)


def test_an_unknown_timer_option_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="text-llm-runner, python-loop"):
        timer_choice({"timer": "stopwatch"})
