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
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "stages" / "requirements.txt"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PLATFORMS = (
    "manylinux_2_28_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
)
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

# MIDR_EL1 of each model a guest can be told it runs on: implementer, variant, part, revision.
# The Pi 5's BCM2712 is Cortex-A76 r4p1. A model missing here is shown as QEMU's `max` (A57's MIDR).
MIDR = {
    "cortex-a53": (0x41, 0x0, 0xD03, 4),
    "cortex-a55": (0x41, 0x2, 0xD05, 0),
    "cortex-a57": (0x41, 0x1, 0xD07, 1),
    "cortex-a72": (0x41, 0x0, 0xD08, 3),
    "cortex-a76": (0x41, 0x4, 0xD0B, 1),
    "neoverse-n1": (0x41, 0x4, 0xD0C, 1),
    "a64fx": (0x46, 0x1, 0x001, 0),
    "max": (0x41, 0x1, 0xD07, 0),
}
# What Linux prints for the Pi 5; features are read from the auxiliary vector, which QEMU fills.
A76_FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
# Pi 5: four cores; 64 KiB L1 i and d, 512 KiB L2 each, 2 MiB L3 shared.
CPUS = 4
CACHES = (
    ("Data", 1, "64K", "{i}"),
    ("Instruction", 1, "64K", "{i}"),
    ("Unified", 2, "512K", "{i}"),
    ("Unified", 3, "2048K", "0-3"),
)


class BadInput(Exception):
    pass


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    missing = [p for p in PINNED if p not in found]
    if missing:
        raise BadInput(
            f"{REQUIREMENTS} pins no {', '.join(missing)} (need name==version lines)"
        )
    return {p: found[p] for p in PINNED}


def env_id(pinned: dict[str, str]) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps(pinned, sort_keys=True).encode())
    return f"arm64-{h.hexdigest()[:12]}"


def missing_tools() -> list[str]:
    return sorted(
        {pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None}
    )


def qemu_cpus() -> list[str]:
    # QEMU 7.2 exits 1 after listing them.
    out = subprocess.run(
        ["qemu-aarch64-static", "-cpu", "help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sorted({line.split()[0] for line in out.splitlines()[1:] if line.strip()})


def qemu_version() -> str:
    out = subprocess.run(
        ["qemu-aarch64-static", "--version"], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[0].strip()


def run(cmd: list[str], log: Path, **kw: object) -> None:
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        res = subprocess.run(cmd, check=False, stdout=f, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    if res.returncode != 0:
        tail = log.read_text().splitlines()[-20:]
        raise RuntimeError(
            f"{cmd[0]} exited {res.returncode}; its log is {log}:\n" + "\n".join(tail)
        )


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


def _readelf(args: list[str], path: Path) -> str:
    return subprocess.run(
        ["readelf", "-W", *args, str(path)], capture_output=True, text=True, check=True
    ).stdout


def _dynsyms(path: Path) -> list[tuple[str, str, str, str]]:
    """(name@version, type, bind, ndx) of each dynamic symbol."""
    rows = []
    for line in _readelf(["--dyn-syms"], path).splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[0][:-1].isdigit():
            rows.append((f[7], f[3], f[4], f[6]))
    return rows


def _elfs(top: Path) -> list[Path]:
    out = []
    for p in top.rglob("*.so*"):
        if p.is_file() and not p.is_symlink():
            with p.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(p)
    return out


def build_stubs(site: Path, rootfs: Path, stubs: Path, log: Path) -> dict[str, int]:
    """Stub libraries for every needed library that neither the wheels nor the rootfs provide."""
    elfs = _elfs(site)
    present = {p.name for p in elfs}
    sys_libs = [
        d
        for d in (
            rootfs / "lib/aarch64-linux-gnu",
            rootfs / "usr/lib/aarch64-linux-gnu",
        )
        if d.is_dir()
    ]
    for d in sys_libs:
        present |= {p.name for p in d.iterdir()}
    missing: dict[str, dict[str, dict[str, str]]] = {}
    defined: set[str] = set()
    undefined: list[tuple[str, str | None]] = []
    for p in elfs:
        for m in re.finditer(
            r"\(NEEDED\)\s+Shared library: \[(.+?)\]", _readelf(["-d"], p)
        ):
            if m.group(1) not in present:
                missing.setdefault(m.group(1), {})
        for name, _typ, bind, ndx in _dynsyms(p):
            sym, _, ver = name.partition("@")
            if ndx != "UND":
                defined.add(sym)
            elif bind != "WEAK":
                undefined.append((sym, ver.split(" ")[0] or None))
    for d in [*sys_libs, rootfs / "usr/bin"]:
        for p in _elfs(d) if d.name != "bin" else [rootfs / "usr/bin/python3.11"]:
            defined |= {
                n.partition("@")[0] for n, _t, _b, ndx in _dynsyms(p) if ndx != "UND"
            }
    version_file: dict[str, str] = {}
    for p in elfs:
        current = None
        for line in _readelf(["-V"], p).splitlines():
            if (m := re.search(r"File: (\S+)", line)) is not None:
                current = m.group(1)
            elif (
                m := re.search(r"Name: (\S+)\s+Flags", line)
            ) is not None and current in missing:
                version_file[m.group(1)] = current
                missing[current].setdefault(m.group(1), {})
    unversioned: dict[str, str] = {}
    for sym, ver in undefined:
        if ver is not None and ver in version_file:
            missing[version_file[ver]][ver][sym] = ver
        elif ver is None and sym not in defined:
            unversioned[sym] = ""
    stubs.mkdir(parents=True)
    counts = {}
    # Unversioned references bind to whichever loaded library defines them; libcudart always loads.
    holder = next(
        (lib for lib in sorted(missing) if lib.startswith("libcudart")),
        min(missing, default=None),
    )
    for lib, versions in sorted(missing.items()):
        syms = sorted(
            {s for v in versions.values() for s in v}
            | (set(unversioned) if lib == holder else set())
        )
        asm = [".text"] + [
            line
            for s in syms
            for line in (
                f".globl {s}",
                f".type {s}, %function",
                f"{s}:",
                "  mov w0, #100",
                "  ret",
            )
        ]
        script = [
            f"{v} {{ global: {'; '.join(sorted(s))}; }};" if s else f"{v} {{ }};"
            for v, s in versions.items()
        ]
        with tempfile.TemporaryDirectory() as td:
            Path(td, "stub.s").write_text("\n".join(asm) + "\n")
            run(["aarch64-linux-gnu-as", "-o", f"{td}/stub.o", f"{td}/stub.s"], log)
            cmd = [
                "aarch64-linux-gnu-ld",
                "-shared",
                "-soname",
                lib,
                "-o",
                str(stubs / lib),
                f"{td}/stub.o",
            ]
            if script:
                Path(td, "versions").write_text("\n".join(script) + "\n")
                cmd += ["--version-script", f"{td}/versions"]
            run(cmd, log)
        counts[lib] = len(syms)
    return counts


def cpuinfo(model: str) -> str:
    impl, var, part, rev = MIDR.get(model, MIDR["max"])
    feats = A76_FEATURES if model == "cortex-a76" else "fp asimd evtstrm cpuid"
    return "\n".join(
        f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {feats}\nCPU implementer\t: {impl:#x}\n"
        f"CPU architecture: 8\nCPU variant\t: {var:#x}\nCPU part\t: {part:#05x}\nCPU revision\t: {rev}\n"
        for i in range(CPUS)
    )


def build_prefix(prefix: Path, rootfs: Path, model: str) -> None:
    """A QEMU prefix for one CPU model: the rootfs's folders linked, /proc and /sys its own."""
    prefix.mkdir(parents=True)
    for entry in rootfs.iterdir():
        if entry.name not in ("proc", "sys"):
            (prefix / entry.name).symlink_to(os.path.relpath(entry, prefix))
    (prefix / "proc").mkdir()
    (prefix / "proc/cpuinfo").write_text(cpuinfo(model))
    cpu = prefix / "sys/devices/system/cpu"
    cpu.mkdir(parents=True)
    for name in ("online", "possible", "present"):
        (cpu / name).write_text(f"0-{CPUS - 1}\n")
    impl, var, part, rev = MIDR.get(model, MIDR["max"])
    midr = (impl << 24) | (var << 20) | (0xF << 16) | (part << 4) | rev
    for i in range(CPUS):
        ident = cpu / f"cpu{i}/regs/identification"
        ident.mkdir(parents=True)
        (ident / "midr_el1").write_text(f"{midr:#018x}\n")
        for k, (kind, level, size, shared) in enumerate(CACHES):
            d = cpu / f"cpu{i}/cache/index{k}"
            d.mkdir(parents=True)
            for name, value in (
                ("type", kind),
                ("level", level),
                ("size", size),
                ("shared_cpu_list", shared.format(i=i)),
            ):
                (d / name).write_text(f"{value}\n")


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
    return sum(
        p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()
    )


def build(out: Path, python: str) -> Path:
    pinned = pins()
    final = out / env_id(pinned)
    if (final / "env.json").is_file():
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
        stubs = build_stubs(work / "site", work / "rootfs", work / "stubs", log)
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
    return final


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "emu")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="a host Python with pip (it installs nothing into itself)",
    )
    ap.add_argument(
        "--print-id",
        action="store_true",
        help="print the environment's folder name and exit",
    )
    args = ap.parse_args()
    try:
        if args.print_id:
            print(env_id(pins()))
            return 0
        print(build(args.out, args.python))
    except BadInput as exc:
        print(f"pte-farm: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(
            f"pte-farm: building the arm64 environment failed (infrastructure): {exc}",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
