"""The stage contract: spec in, ``result.json`` out, exit codes (see ``stages/README.md``).

Every stage module calls :func:`run_stage` from its ``main``; it is the one place where an
exception becomes an exit code and a ``result.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

RESULT_SCHEMA = "pte-farm/stage-result@1"
SPEC_SCHEMA = "pte-farm/stage-spec@1"
STAGES = ("reference", "export", "quantize", "lower", "execute")
TOOLCHAIN_PACKAGES = ("torch", "executorch", "torchao", "transformers")

EXIT_OK, EXIT_STAGE, EXIT_CONFIG, EXIT_INFRA = 0, 1, 2, 3


class StageError(Exception):
    """A failure the stage diagnosed itself; ``kind`` picks the exit code."""

    kind = "stage"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(StageError):
    """The spec is wrong: the message says what to fix. Exit 2."""

    kind = "config"


class InfraError(StageError):
    """The machine is wrong (toolchain, corrupted artefact, resources). Exit 3."""

    kind = "infra"


@dataclass(frozen=True)
class Cell:
    model: str
    recipe: str
    backend: str
    device: str
    toolchain: str

    @property
    def id(self) -> str:
        return f"{self.model}/{self.recipe}/{self.backend}/{self.device}@{self.toolchain}"


CNN_MODEL_TYPE = "pte-farm-cnn"


@dataclass(frozen=True)
class ModelSpec:
    """A model folder. ``decoder-lm``: Hugging Face format, loaded with ``from_pretrained``.
    ``cnn``: a folder whose ``config.json`` has ``model_type: pte-farm-cnn`` (see :mod:`pte_stages.modeling.small_cnn`);
    the folder decides the kind, so a spec cannot run a CNN through the LM stages or back."""

    id: str
    path: Path
    max_seq_len: int = 128
    kind: str = "decoder-lm"
    # OPTIONAL in the spec (the matrix's ``input_shape``): when given, the CNN folder must agree.
    input_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class RecipeSpec:
    """``scheme`` names an entry of :data:`pte_stages.recipes.RECIPES`."""

    name: str
    scheme: str
    group_size: int | None = None
    # Every other key of ``spec.recipe`` (the matrix's ``params``); each recipe checks its own.
    params: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """The recipe as the spec gave it, flat."""
        out: dict[str, Any] = {"name": self.name, "scheme": self.scheme, "group_size": self.group_size}
        return {**out, **self.params}


@dataclass(frozen=True)
class BackendSpec:
    """``kind`` names an entry of :data:`pte_stages.backends.BACKENDS`."""

    name: str
    kind: str
    per_op_mode: bool = False
    # ``ethos-u``: the accelerator configuration Vela compiles for (``ethos-u55-128``, ``ethos-u85-256``).
    target: str | None = None
    # ``tosa``: the TOSA specification the graph is lowered to (``TOSA-1.0+INT``).
    profile: str | None = None
    # ``portable``: decompose torchao's affine quantization ops into aten first (the farm's fix for
    # UPSTREAM-ISSUES #6); false lowers them as they are, which the canary for #6 does on purpose.
    decompose_affine: bool = True


@dataclass(frozen=True)
class CooldownSpec:
    """Before each rep, wait until the hottest thermal zone is below ``below_c`` (°C), at most
    ``max_wait_s``; a rep still hot after that is flagged ``hot``. From the device's ``thermal`` block."""

    below_c: float
    max_wait_s: float
    poll_s: float = 2.0


@dataclass(frozen=True)
class ExecuteSpec:
    warmup: int = 1
    reps: int = 5
    prompt_ids: tuple[tuple[int, ...], ...] = ()
    cooldown: CooldownSpec | None = None
    # Per prompt, the reference's tokens and top logits per step (:mod:`pte_stages.numerics`), from
    # the eager reference of the cell's recipe; empty: no numerics (an older reference, a CNN).
    reference_logits: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Spec:
    stage: str
    cell: Cell
    model: ModelSpec
    prompts: tuple[str, ...]
    max_new_tokens: int
    recipe: RecipeSpec
    backend: BackendSpec
    inputs: dict[str, Path] = field(default_factory=dict)
    execute: ExecuteSpec = ExecuteSpec()
    options: dict[str, Any] = field(default_factory=dict)

    def input(self, name: str) -> Path:
        """An input artefact that must exist, or a config error naming it."""
        path = self.inputs.get(name)
        if path is None:
            raise ConfigError(f"spec.inputs.{name} is missing: the {self.stage} stage needs it")
        if not path.is_file():
            raise ConfigError(f"spec.inputs.{name}: {path} does not exist or is not a file")
        return path


def _get(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ConfigError(f"spec: {where}{key} is required")
    value = d[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"spec: {where}{key} has the wrong type ({type(value).__name__})")
    return value


def _cooldown(raw: Any) -> CooldownSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("spec.execute.cooldown must be an object {below_c, max_wait_s, poll_s?} or null")
    below = _get(raw, "below_c", (int, float), "execute.cooldown.")
    wait = _get(raw, "max_wait_s", (int, float), "execute.cooldown.")
    poll = raw.get("poll_s", 2.0)
    if below <= 0 or wait < 0 or not isinstance(poll, (int, float)) or poll <= 0:
        raise ConfigError(f"spec.execute.cooldown: below_c > 0, max_wait_s >= 0, poll_s > 0; got {raw}")
    return CooldownSpec(float(below), float(wait), float(poll))


def _reference_logits(raw: Any) -> tuple[dict[str, Any], ...]:
    """``spec.execute.reference_logits``: per prompt ``{"reference", "ids", "top": {"ids", "values"}}``."""
    if not isinstance(raw, list):
        raise ConfigError(f"spec.execute.reference_logits must be a list, got {type(raw).__name__}")
    out = []
    for i, p in enumerate(raw):
        top = p.get("top") if isinstance(p, dict) else None
        if (
            not isinstance(top, dict)
            or not isinstance(p.get("ids"), list)
            or not isinstance(top.get("ids"), list)
            or not isinstance(top.get("values"), list)
            or len(top["ids"]) != len(top["values"])
        ):
            raise ConfigError(
                f"spec.execute.reference_logits[{i}] must be {{reference, ids, top: {{ids, values}}}} "
                "with one ids and one values list per step"
            )
        out.append(p)
    return tuple(out)


def _optional_str(d: dict[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"spec: {where}{key} must be a string, got {type(value).__name__}")
    return value


def _model(m: dict[str, Any]) -> ModelSpec:
    """The model block; its kind comes from the folder's ``config.json``."""
    path = Path(_get(m, "path", str, "model."))
    config = path / "config.json"
    if not config.is_file():
        raise ConfigError(
            f"model folder {path} has no config.json: point model.path at a Hugging Face "
            "model folder (config.json, *.safetensors, tokenizer files) or a pte-farm CNN folder"
        )
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{config} is not a JSON object: {exc}") from exc
    kind = "cnn" if model_type == CNN_MODEL_TYPE else "decoder-lm"
    declared = m.get("kind")
    if declared is not None and declared != kind:
        raise ConfigError(f"spec.model.kind is {declared!r} but the folder {path} holds a {kind} model")
    shape = m.get("input_shape")
    if shape is not None and (not isinstance(shape, list) or not all(isinstance(d, int) for d in shape)):
        raise ConfigError(f"spec.model.input_shape must be a list of integers, got {shape!r}")
    max_seq = int(m.get("max_seq_len", 128 if kind == "decoder-lm" else 0))
    return ModelSpec(str(_get(m, "id", str, "model.")), path, max_seq, kind, None if shape is None else tuple(shape))


def parse_spec(raw: Any, stage: str) -> Spec:
    """Typed spec from parsed JSON; any problem is a :class:`ConfigError` naming the field."""
    if not isinstance(raw, dict):
        raise ConfigError("spec: the top level must be a JSON object")
    if raw.get("schema") != SPEC_SCHEMA:
        raise ConfigError(f"spec.schema must be {SPEC_SCHEMA!r}, got {raw.get('schema')!r}")
    if raw.get("stage") != stage:
        raise ConfigError(f"spec.stage is {raw.get('stage')!r} but this is the {stage} stage")
    c = _get(raw, "cell", dict, "")
    cell = Cell(*(str(_get(c, k, str, "cell.")) for k in Cell.__dataclass_fields__))
    model = _model(_get(raw, "model", dict, ""))
    r = _get(raw, "recipe", dict, "")
    params = {k: v for k, v in r.items() if k not in ("name", "scheme", "group_size")}
    recipe = RecipeSpec(_get(r, "name", str, "recipe."), _get(r, "scheme", str, "recipe."), r.get("group_size"), params)
    b = _get(raw, "backend", dict, "")
    backend = BackendSpec(
        _get(b, "name", str, "backend."),
        _get(b, "kind", str, "backend."),
        bool(b.get("per_op_mode", False)),
        _optional_str(b, "target", "backend."),
        _optional_str(b, "profile", "backend."),
        bool(b.get("decompose_affine", True)),
    )
    e = raw.get("execute") or {}
    execute = ExecuteSpec(
        warmup=int(e.get("warmup", 1)),
        reps=int(e.get("reps", 5)),
        prompt_ids=tuple(tuple(int(t) for t in p) for p in e.get("prompt_ids", [])),
        cooldown=_cooldown(e.get("cooldown")),
        reference_logits=_reference_logits(e.get("reference_logits") or []),
    )
    if execute.reps < 1 or execute.warmup < 0:
        raise ConfigError(f"spec.execute: reps must be >= 1 and warmup >= 0, got {execute}")
    prompts = tuple(str(p) for p in _get(raw, "prompts", list, ""))
    max_new = _get(raw, "max_new_tokens", int, "")
    if model.kind == "decoder-lm" and (max_new < 1 or model.max_seq_len < 2):
        raise ConfigError("spec: max_new_tokens must be >= 1 and model.max_seq_len >= 2")
    inputs = {k: Path(v) for k, v in (raw.get("inputs") or {}).items()}
    return Spec(stage, cell, model, prompts, max_new, recipe, backend, inputs, execute, dict(raw.get("options") or {}))


# The Arm backends' compilers: a Vela upgrade changes the command stream, so Ethos-U and TOSA
# manifests name them too.
ARM_TOOLCHAIN_PACKAGES = ("ethos-u-vela", "tosa-tools")


def toolchain_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Exact versions of this interpreter and of the pinned packages (``missing`` if absent)."""
    out = {"python": platform.python_version()}
    for pkg in TOOLCHAIN_PACKAGES + extra:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    if out.get("torch") != "missing":
        import torch  # the wheel's metadata omits the local tag (+cpu); the module has it

        out["torch"] = str(torch.__version__)
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def artefact(out: Path, path: Path) -> dict[str, Any]:
    return {"path": str(path.relative_to(out)), "sha256": sha256_file(path), "bytes": path.stat().st_size}


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write to a sibling temp file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def blame(exc: BaseException) -> tuple[str, str]:
    """The upstream package whose code raised: the deepest traceback frame in site-packages."""
    package = "pte_stages"
    for frame in traceback.extract_tb(exc.__traceback__):
        parts = Path(frame.filename).parts
        if "site-packages" in parts:
            idx = parts.index("site-packages")
            if idx + 1 < len(parts):
                package = parts[idx + 1].removesuffix(".py")
    if package == "pte_stages":
        return package, "local"
    try:
        return package, metadata.version(package)
    except metadata.PackageNotFoundError:
        return package, "unknown"


def _classify(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, StageError):
        return exc.kind, {"stage": EXIT_STAGE, "config": EXIT_CONFIG, "infra": EXIT_INFRA}[exc.kind]
    if isinstance(exc, (MemoryError, ModuleNotFoundError)):
        return "infra", EXIT_INFRA
    if isinstance(exc, OSError) and exc.errno in (28, 122):  # ENOSPC, EDQUOT
        return "infra", EXIT_INFRA
    return "stage", EXIT_STAGE


StageFn = Callable[[Spec, Path], tuple[dict[str, Any], dict[str, Path]]]


def run_stage(stage: str, fn: StageFn, argv: list[str] | None = None) -> int:
    """Parse ``--spec/--out``, run ``fn`` and write ``result.json``; returns the exit code.

    ``fn`` returns ``(data, artefacts)`` where artefacts maps a name to a file inside ``out``.
    """
    ap = argparse.ArgumentParser(prog=f"python -m pte_stages.{stage}")
    ap.add_argument("--spec", type=Path, required=True, help="stage spec (pte-farm/stage-spec@1)")
    ap.add_argument("--out", type=Path, required=True, help="folder for result.json and artefacts")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started, t0 = _now(), time.monotonic()
    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "stage": stage,
        "status": "ok",
        "started_at": started,
        "toolchain": toolchain_versions(),
        "artefacts": {},
        "data": {},
        "error": None,
    }
    code = EXIT_OK
    try:
        try:
            raw = json.loads(args.spec.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read spec {args.spec}: {exc}") from exc
        spec = parse_spec(raw, stage)
        if spec.options.get("sleep_s"):
            time.sleep(float(spec.options["sleep_s"]))  # lets tests exercise timeouts for real
        data, files = fn(spec, out)
        result["data"] = data
        result["artefacts"] = {name: artefact(out, p) for name, p in files.items()}
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        kind, code = _classify(exc)
        package, version = blame(exc) if not isinstance(exc, StageError) else ("pte_stages", "local")
        traceback.print_exc(file=sys.stderr)
        message = str(exc).strip() or type(exc).__name__
        print(f"\n[pte-farm] {stage} failed ({kind}) in {package} {version}: {message}", file=sys.stderr)
        result["status"] = "failed"
        result["error"] = {
            "kind": kind,
            "type": type(exc).__name__,
            "message": message[:4000],
            "package": package,
            "package_version": version,
            "hint": getattr(exc, "hint", None),
        }
    result["finished_at"] = _now()
    result["duration_s"] = round(time.monotonic() - t0, 3)
    write_json_atomic(out / "result.json", result)
    return code
