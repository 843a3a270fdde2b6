#!/usr/bin/env python3
"""Builds the arm64 environment that runs ExecuTorch's real aarch64 runtime under QEMU user mode.

    python3 runners/pi5-emu/build_env.py --out .cache/emu [--python .venv/bin/python]

What it makes, in ``OUT/arm64-<hash>/`` (the hash covers this file and the torch, executorch and
numpy pins of stages/requirements.txt, so a changed pin builds a new one and nothing else does):

- ``rootfs/``: Debian bookworm arm64, only what CPython 3.11 and the wheels load. debootstrap's
  first stage downloads the packages; they are unpacked with ``dpkg-deb -x`` on this host, so no
  package script runs under emulation (a full debootstrap takes ~8 min here; this ~30 s).
- ``site/``: the aarch64 wheels of the pinned torch and executorch and the pure-Python modules
  they import, installed by this host's pip (``--platform manylinux_2_28_aarch64``) and
  byte-compiled here: a ``.pyc`` is the same on every CPU, and compiling under emulation
  doubled an import.
- ``stubs/``: the package index's aarch64 torch is a CUDA build. Its shared libraries name the
  CUDA libraries (cudart, cublas, cudnn, nccl, … 2.8 GB, and not all resolvable from the index)
  as needed, but the CPU path calls none of them. Each is replaced by a stub library built here
  with the aarch64 binutils from the wheels' own dynamic symbol tables: the same sonames and
  symbol versions, every function returning error 100 ("no device"), so
  ``torch.cuda.is_available()`` is False and nothing else changes.
- ``cpus/<model>/``: one QEMU prefix per CPU model: the rootfs's folders linked in, plus the
  ``/proc/cpuinfo`` and ``/sys/devices/system/cpu`` that board shows. QEMU 7.2 passes the host's
  x86 ``/proc/cpuinfo`` through, on which oneDNN's xbyak_aarch64 crashes ``import torch``; a file
  under the prefix is what the guest opens instead.
- ``bin/python``: the interpreter the stages run with (``PTE_FARM_QEMU_CPU`` picks the model).
- ``env.json``: what was built from what, and its size. It is written last: a folder without it
  is an unfinished build, and the whole folder is built under a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu_prefix import build_prefix
from cuda_stubs import build_stubs

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "stages" / "requirements.txt"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
# What CPython 3.11 and the wheels' shared libraries load, beyond debootstrap's minbase.
DEBIAN_PACKAGES = (
    "python3.11-minimal",
    "libpython3.11-stdlib",
    "zlib1g",
    "libstdc++6",
    "libgcc-s1",
    "libgomp1",
    "libatomic1",
)
# Pinned from stages/requirements.txt.
PINNED = ("torch", "executorch", "numpy")
# Imported by `import torch` and `executorch.runtime` (found by importing under emulation until
# nothing was missing); the execute stage needs nothing more. Unpinned: the index's newest.
PURE_PYTHON = (
    "typing-extensions",
    "sympy",
    "mpmath",
    "filelock",
    "networkx",
    "jinja2",
    "markupsafe",
    "fsspec",
    "packaging",
    "flatbuffers",
    "pyyaml",
    "ruamel.yaml",
    "tabulate",
)
HOST_TOOLS = {
    "qemu-aarch64-static": "qemu-user-static",
    "debootstrap": "debootstrap",
    "aarch64-linux-gnu-as": "binutils-aarch64-linux-gnu",
    "dpkg-deb": "dpkg",
    "readelf": "binutils",
}


class BadInput(Exception):
    pass


def pins(file: Path = REQUIREMENTS) -> dict[str, str]:
    """torch, executorch and numpy from a pins file or a lock's requirements.lock.txt, without local
    labels: the aarch64 wheel of torch 2.13.0 is the index's, whatever build the host has (+cpu)."""
    if not file.is_file():
        raise BadInput(f"{file} does not exist (a pins file: name==version lines)")
    found = {}
    for line in file.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;+]+)", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    missing = [p for p in PINNED if p not in found]
    if missing:
        raise BadInput(f"{file} pins no {', '.join(missing)} (need name==version lines)")
    return {p: found[p] for p in PINNED}


def env_id(pinned: dict[str, str]) -> str:
    h = hashlib.sha256()
    for part in sorted(Path(__file__).parent.glob("*.py")):  # this builder and its two modules
        h.update(part.read_bytes())
    h.update(json.dumps(pinned, sort_keys=True).encode())
    return f"arm64-{h.hexdigest()[:12]}"


def missing_tools() -> list[str]:
    return sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})


def qemu_cpus() -> list[str]:
    # QEMU 7.2 exits 1 after listing them.
    out = subprocess.run(["qemu-aarch64-static", "-cpu", "help"], capture_output=True, text=True, check=False).stdout
    return sorted({line.split()[0] for line in out.splitlines()[1:] if line.strip()})


def qemu_version() -> str:
    out = subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def run(cmd: list[str], log: Path, **kw: object) -> None:
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        res = subprocess.run(cmd, check=False, stdout=f, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    if res.returncode != 0:
        tail = log.read_text().splitlines()[-20:]
        raise RuntimeError(f"{cmd[0]} exited {res.returncode}; its log is {log}:\n" + "\n".join(tail))


def build_rootfs(rootfs: Path, log: Path) -> None:
    run(
        [
            "debootstrap",
            "--foreign",
            "--arch=arm64",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            SUITE,
            str(rootfs),
            MIRROR,
        ],
        log,
    )
    for deb in sorted((rootfs / "var/cache/apt/archives").glob("*.deb")):
        run(["dpkg-deb", "-x", str(deb), str(rootfs)], log)
    shutil.rmtree(rootfs / "var/cache/apt/archives")
    shutil.rmtree(rootfs / "debootstrap", ignore_errors=True)


def install_site(site: Path, python: str, pinned: dict[str, str], log: Path) -> None:
    plats = [a for p in PLATFORMS for a in ("--platform", p)]
    reqs = [f"{p}=={v}" for p, v in pinned.items()] + list(PURE_PYTHON)
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--only-binary=:all:",
            *plats,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--target",
            str(site),
            "--no-compile",
            "--disable-pip-version-check",
            *reqs,
        ],
        log,
    )


def compile_all(dirs: list[Path], python: str, log: Path) -> None:
    # Errors in test files of third-party packages (py2 syntax, templates) are not ours to fix.
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", *map(str, dirs)],
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        check=False,
    )


LAUNCHER = """#!/bin/sh
# The arm64 CPython of this environment under QEMU user mode; PTE_FARM_QEMU_CPU picks the CPU model.
here=$(cd "$(dirname "$0")/.." && pwd)
cpu=${PTE_FARM_QEMU_CPU:-cortex-a76}
if [ ! -d "$here/cpus/$cpu" ]; then
  echo "pte-farm: this arm64 environment has no CPU model '$cpu'; it has: $(ls "$here/cpus" | tr '\\n' ' ')" >&2
  exit 2
fi
export QEMU_CPU="$cpu" QEMU_LD_PREFIX="$here/cpus/$cpu" LD_LIBRARY_PATH="$here/stubs"
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$here/site" PYTHONNOUSERSITE=1
exec qemu-aarch64-static "$here/rootfs/usr/bin/python3.11" "$@"
"""


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


KEEP = 3


def prune(out: Path, final: Path) -> None:
    """Keeps the KEEP environments used most recently (a run touches its env.json); unfinished
    builds of other environments go. Each is about 1.5 GB."""
    done = [d for d in out.glob("arm64-*") if (d / "env.json").is_file()]
    done.sort(key=lambda d: (d == final, (d / "env.json").stat().st_mtime), reverse=True)
    for old in done[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for tmp in out.glob(".arm64-*"):
        if not tmp.name.startswith(f".{final.name}."):
            shutil.rmtree(tmp, ignore_errors=True)


def build(out: Path, python: str, pins_file: Path = REQUIREMENTS) -> Path:
    pinned = pins(pins_file)
    final = out / env_id(pinned)
    if (final / "env.json").is_file():
        (final / "env.json").touch()  # recently used: kept by prune()
        return final
    missing = missing_tools()
    if missing:
        raise BadInput(
            f"the arm64 environment needs Debian's {', '.join(missing)} (apt-get install {' '.join(missing)})"
        )
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(final, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out))
    log = work / "build.log"
    started = time.monotonic()
    try:
        build_rootfs(work / "rootfs", log)
        install_site(work / "site", python, pinned, log)
        compile_all([work / "site", work / "rootfs/usr/lib/python3.11"], python, log)
        stubs = build_stubs(work / "site", work / "rootfs", work / "stubs", lambda cmd: run(cmd, log))
        models = qemu_cpus()
        for model in models:
            build_prefix(work / "cpus" / model, work / "rootfs", model)
        (work / "bin").mkdir()
        (work / "bin/python").write_text(LAUNCHER)
        (work / "bin/python").chmod(0o755)
        meta = {
            "schema": "pte-farm/arm64-env@1",
            "id": final.name,
            "pins": pinned,
            "suite": SUITE,
            "debian_packages": list(DEBIAN_PACKAGES),
            "pure_python": list(PURE_PYTHON),
            "qemu": qemu_version(),
            "cpu_models": models,
            "cuda_stubs": stubs,
            "bytes": du(work),
            "build_s": round(time.monotonic() - started, 1),
        }
        (work / "env.json").write_text(json.dumps(meta, indent=2) + "\n")
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune(out, final)
    return final


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "emu")
    ap.add_argument("--python", default=sys.executable, help="a host Python with pip (it installs nothing into itself)")
    ap.add_argument("--print-id", action="store_true", help="print the environment's folder name and exit")
    ap.add_argument(
        "--pins-file",
        type=Path,
        default=REQUIREMENTS,
        help="where torch, executorch and numpy are pinned (default: stages/requirements.txt; "
        "a channel's lock: its requirements.lock.txt)",
    )
    args = ap.parse_args()
    try:
        if args.print_id:
            print(env_id(pins(args.pins_file)))
            return 0
        print(build(args.out, args.python, args.pins_file))
    except BadInput as exc:
        print(f"pte-farm: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"pte-farm: building the arm64 environment failed (infrastructure): {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
