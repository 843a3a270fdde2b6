"""Is a model folder what the stages will load? Checked before any stage starts.

``pte-farm validate`` and ``pte-farm run`` call this once for every model they are about to use
(actions/src/pipeline/model-folders.ts), so a broken folder is bad input (exit 2) naming the file and
what is wrong, not a reference stage that fails inside transformers blaming a missing package.

    python -m pte_stages.probes.model_folder --models models.json

``models.json`` is a list of ``{"name", "kind", "path", "prompts", "max_new_tokens", "max_seq_len"}``.
Prints one JSON object on stdout, ``{"schema": "pte-farm/model-folders@1", "models": [{"name",
"problems": [{"file", "problem", "fix"}], "seconds"}]}``, and exits 0 whatever it found (the caller
decides); exit 2 only for a malformed ``models.json``.

What is checked, with the same loaders the stages use so that "passes here" means "loads there":

* ``config.json`` parses and transformers knows its ``model_type`` (``AutoConfig``);
* the weights load into that architecture with nothing missing, unexpected or mis-shaped
  (``from_pretrained(..., output_loading_info=True)``: transformers only warns about missing
  weights and initialises them at random, which would gate a random model against itself);
* the tokenizer loads (``AutoTokenizer``) and every prompt tokenizes to ids inside the vocabulary,
  short enough for ``max_seq_len`` with ``max_new_tokens`` generated.

A pte-farm CNN folder (``model_type: pte-farm-cnn``) is checked with its own loader.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

SCHEMA = "pte-farm/model-folders@1"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0][:400]}"


def _key(entry: Any) -> str:
    """A loading-info entry: a key, or (key, shape in the file, shape the model wants)."""
    if isinstance(entry, tuple) and len(entry) == 3:
        return f"{entry[0]} (file {list(entry[1])}, model {list(entry[2])})"
    return str(entry)


class Problems:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.items: list[dict[str, str]] = []

    def add(self, file: str, problem: str, fix: str) -> None:
        self.items.append(
            {"file": str(self.folder / file) if file else str(self.folder), "problem": problem, "fix": fix}
        )


def _weights_file(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    for pattern in (
        "model.safetensors.index.json",
        "model.safetensors",
        "pytorch_model.bin.index.json",
        "pytorch_model.bin",
    ):
        if pattern in names:
            return pattern
    shards = [n for n in names if n.endswith(".safetensors")]
    return shards[0] if shards else "model.safetensors"


def _tokenizer_file(folder: Path) -> str:
    for name in ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json"):
        if (folder / name).is_file():
            return name
    return "tokenizer.json"


def check_config(folder: Path, out: Problems) -> dict[str, Any] | None:
    """The parsed ``config.json``, or None after recording why it cannot be used."""
    path = folder / "config.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        out.add("config.json", "missing", "add the model's config.json (from the model's release)")
        return None
    except ValueError as exc:
        out.add("config.json", f"not valid JSON: {exc}", "fix the JSON syntax at that line and column")
        return None
    if not isinstance(raw, dict):
        out.add(
            "config.json", f"holds a JSON {type(raw).__name__}, not an object", "replace it with the model's config"
        )
        return None
    if not isinstance(raw.get("model_type"), str):
        out.add("config.json", "has no model_type", 'add "model_type" (e.g. "llama"), as transformers writes it')
        return None
    return raw


def check_decoder_lm(model: dict[str, Any], folder: Path, out: Problems) -> None:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    version = f"transformers {transformers.__version__}"
    raw = check_config(folder, out)
    if raw is None:
        return
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (ValueError, KeyError, OSError, TypeError) as exc:
        out.add(
            "config.json",
            f"{version} cannot read it (model_type {raw['model_type']!r}): {_first_line(exc)}",
            "use a model_type this transformers knows, or a toolchain whose transformers has it",
        )
        return
    # The stages' own architecture knowledge (modeling/architectures.py): a type the generic path
    # cannot take, or a max_seq_len the architecture cannot hold, is refused here as it would be there.
    from ..contract import ConfigError
    from ..modeling.architectures import architecture_for, decoder_config

    try:
        arch = architecture_for(raw, str(model["name"]))
        arch.check(decoder_config(raw), int(model.get("max_seq_len") or 0), str(model["name"]))
    except ConfigError as exc:
        out.add("config.json", str(exc), exc.hint or "see stages/pte_stages/modeling/architectures.py")
        return
    weights = _weights_file(folder)
    try:
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            folder,
            local_files_only=True,
            dtype=torch.float32,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below by name, not as "look at the above report"
        )
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc) or "does not recognize this architecture" in str(exc):
            out.add(
                "config.json",
                f"{version} has no causal-LM class for model_type {config.model_type!r}: {_first_line(exc)}",
                "a decoder-lm model needs a model_type AutoModelForCausalLM maps (or declare another kind)",
            )
        else:
            out.add(weights, f"the weights do not load: {_first_line(exc)}", "replace the weights with the model's own")
        return
    except Exception as exc:  # noqa: BLE001 — any loader failure is this folder's, kept whole in the message
        out.add(
            weights, f"the weights do not load: {_first_line(exc)}", "replace the weights with the model's own files"
        )
        return
    info: dict[str, Any] = loaded[1]
    wrong = {k: list(v) for k, v in info.items() if k != "error_msgs" and v}
    for what, keys in wrong.items():
        shown = ", ".join(_key(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        label = what.replace("_", " ")
        out.add(
            weights,
            f"{label} against {type(config).__name__}: {shown}",
            "the weights are not this config's model: use the weights and config.json of one release",
        )
    for msg in info.get("error_msgs", []):
        out.add(weights, f"load error: {str(msg)[:400]}", "replace the weights with the model's own files")

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 — the tokenizer's own error, whatever its type
        out.add(
            _tokenizer_file(folder),
            f"the tokenizer does not load: {_first_line(exc)}",
            "add the model's tokenizer.json (or tokenizer.model) and tokenizer_config.json",
        )
        return
    vocab = getattr(config, "vocab_size", None) or getattr(getattr(config, "text_config", None), "vocab_size", None)
    max_seq, max_new = int(model.get("max_seq_len") or 0), int(model.get("max_new_tokens") or 0)
    for prompt in model.get("prompts") or []:
        ids = [int(t) for t in tokenizer(prompt)["input_ids"]]
        if not ids:
            out.add(_tokenizer_file(folder), f"prompt {prompt!r} tokenizes to nothing", "use a non-empty prompt")
        elif vocab is not None and max(ids) >= vocab:
            out.add(
                _tokenizer_file(folder),
                f"prompt {prompt!r} tokenizes to id {max(ids)}, outside the model's vocabulary ({vocab})",
                "the tokenizer is not this model's: use the tokenizer of the same release",
            )
        elif max_seq and len(ids) + max_new > max_seq:
            out.add(
                "",
                f"prompt {prompt!r} is {len(ids)} tokens; with max_new_tokens={max_new} it exceeds "
                f"max_seq_len={max_seq}",
                "shorten the prompt or raise the model's max_seq_len in the matrix",
            )


def check_cnn(folder: Path, out: Problems) -> None:
    from ..contract import ConfigError
    from ..modeling.small_cnn import load_model

    if check_config(folder, out) is None:
        return
    try:
        load_model(folder)
    except ConfigError as exc:
        out.add("config.json", str(exc), "fix the field it names")
    except Exception as exc:  # noqa: BLE001
        out.add(
            "model.safetensors",
            f"the weights do not load: {_first_line(exc)}",
            "retrain with pte_stages.training.train_cnn",
        )


def check(model: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    folder = Path(model["path"])
    out = Problems(folder)
    if not folder.is_dir():
        out.add("", "is not a folder", "point the model's path at its folder")
    elif model.get("kind") == "cnn":
        check_cnn(folder, out)
    else:
        check_decoder_lm(model, folder, out)
    return {"name": model["name"], "problems": out.items, "seconds": round(time.perf_counter() - start, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--models", required=True, help="JSON list of the models to check")
    args = ap.parse_args(argv)
    try:
        models = json.loads(Path(args.models).read_text())
        if not isinstance(models, list) or not all(isinstance(m, dict) and "name" in m and "path" in m for m in models):
            raise ValueError("expected a list of objects with name and path")
    except (OSError, ValueError) as exc:
        print(f"model_folder: bad --models {args.models}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"schema": SCHEMA, "models": [check(m) for m in models]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
