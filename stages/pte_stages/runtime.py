"""A ``.pte`` on this machine: refused unless it is the file its manifest describes and was built
with this machine's torch and executorch, then run through ExecuTorch's Python runtime and timed.

The checks come before anything runs: a toolchain mismatch otherwise surfaces as
``xnn_status_invalid_parameter`` deep in XNNPACK (UPSTREAM-ISSUES #9), which reads like a model bug.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch

from .contract import InfraError, Spec, sha256_file, toolchain_versions

CHECKED_PACKAGES = ("torch", "executorch")


def _release(version: Any) -> Any:
    """A PEP 440 version without its local label (``2.13.0+cpu`` → ``2.13.0``)."""
    return version.split("+", 1)[0] if isinstance(version, str) else version


def check_artefact(pte: Path, manifest: dict[str, Any]) -> None:
    """Refuse a ``.pte`` that is not the one its manifest describes, or was built elsewhere."""
    want = manifest.get("pte", {}).get("sha256")
    got = sha256_file(pte)
    if got != want:
        raise InfraError(
            f"refusing to execute {pte}: its sha256 {got[:16]}… does not match the manifest's "
            f"{str(want)[:16]}…; the file was corrupted or replaced after lowering",
            hint="rebuild it (pte-farm run --no-cache) or download it again",
        )
    here = toolchain_versions()
    built = manifest.get("toolchain", {})
    # The release, not the build variant: torch 2.13.0+cpu (x86_64) and 2.13.0+cu130 (the index's
    # aarch64 wheel) are one release, and a .pte from either runs on the other.
    diff = [p for p in CHECKED_PACKAGES if _release(built.get(p)) != _release(here.get(p))]
    if diff:
        pairs = ", ".join(f"{p} {built.get(p)} (build) vs {here.get(p)} (this device)" for p in diff)
        raise InfraError(
            f"toolchain mismatch: the .pte was built with a different toolchain than this device runs: {pairs}",
            hint="install the build's exact versions on the device (UPSTREAM-ISSUES #9)",
        )


def load_checked(spec: Spec, pte_key: str, manifest_key: str) -> tuple[Path, dict[str, Any]]:
    """A `.pte` input and its manifest, refused unless they match each other and this machine."""
    pte = spec.input(pte_key)
    try:
        manifest = json.loads(spec.input(manifest_key).read_text())
    except ValueError as exc:
        raise InfraError(f"manifest {spec.inputs[manifest_key]} is not valid JSON: {exc}") from exc
    check_artefact(pte, manifest)
    return pte, manifest


def executorch_runtime() -> Any:
    """ExecuTorch's ``Runtime`` without its compiler, as a device needs it.

    ``executorch.runtime`` loads the pybindings, which import ``executorch.exir._warnings`` (two
    decorators) and so run ``executorch/exir/__init__.py``: the whole compiler, with torch._dynamo,
    inductor and the edge dialect. Under QEMU on an emulated Cortex-A76 that took 38 of the 56 s of
    ``from executorch.runtime import Runtime``; on the host, seconds per execute stage. A bare package
    object stands in for ``executorch.exir`` while the runtime loads, so only ``_warnings`` runs, and is
    removed afterwards: a later ``import executorch.exir`` runs the real package whole.
    """
    if "executorch.exir" in sys.modules or "executorch.runtime" in sys.modules:
        from executorch.runtime import Runtime

        return Runtime
    found = importlib.util.find_spec("executorch.exir")
    if found is None or found.submodule_search_locations is None:
        from executorch.runtime import Runtime  # let the real import report what is missing

        return Runtime
    bare = types.ModuleType("executorch.exir")
    bare.__path__ = list(found.submodule_search_locations)
    sys.modules["executorch.exir"] = bare
    try:
        from executorch.runtime import Runtime
    finally:
        for name in ("executorch.exir", "executorch.exir._warnings"):
            sys.modules.pop(name, None)
        parent = sys.modules.get("executorch")
        if parent is not None and getattr(parent, "exir", None) is bare:
            delattr(parent, "exir")
    return Runtime


def _argmax_last(outputs: Any) -> int:
    return int(outputs[0][0, -1].argmax())


def generate(
    method: Any,
    prompt_ids: list[int],
    max_new: int,
    max_seq: int,
    eos: int | None,
    logits: list[torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Greedy generation: one prefill call over the prompt, then one call per decoded token. With a
    ``logits`` list, each step's last-position logits are appended to it (a copy: the numerics gate)."""
    n = len(prompt_ids)

    def step(outputs: Any) -> int:
        if logits is not None:
            logits.append(outputs[0][0, -1].detach().clone())
        return _argmax_last(outputs)

    t0 = time.perf_counter()
    ids = [step(method.execute([torch.tensor([prompt_ids]), torch.arange(n)]))]
    prefill_s = time.perf_counter() - t0
    pos = n
    t1 = time.perf_counter()
    while len(ids) < max_new and ids[-1] != eos and pos < max_seq - 1:
        ids.append(step(method.execute([torch.tensor([[ids[-1]]]), torch.tensor([pos])])))
        pos += 1
    decode_s = time.perf_counter() - t1
    return {"ids": ids, "prefill_s": prefill_s, "decode_s": decode_s, "prompt_len": n}


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def abba_order(reps: int) -> list[str]:
    """``base, head, head, base, base, head, ...`` for ``reps`` each: a linear drift in speed (a
    board heating up) adds the same total to both roles over every ABBA block, so it cancels."""
    pattern = ("base", "head", "head", "base")
    return [pattern[i % 4] for i in range(2 * reps)]
