"""The model-kind registry: every kind the contract can produce is registered, and an unknown one is refused by name."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_spec

from pte_stages.contract import ConfigError, parse_spec
from pte_stages.kinds import KINDS, kind_for


def test_an_unknown_model_kind_fails_with_the_list_of_known_ones() -> None:
    model = dataclasses.replace(parse_spec(make_spec("export"), "export").model, kind="rnn")
    with pytest.raises(ConfigError, match=r"unknown kind 'rnn'; known kinds: cnn, decoder-lm"):
        kind_for(model)


def test_the_shipped_lm_folder_resolves_to_the_decoder_lm_kind() -> None:
    model = parse_spec(make_spec("export"), "export").model
    assert kind_for(model) is KINDS["decoder-lm"]
