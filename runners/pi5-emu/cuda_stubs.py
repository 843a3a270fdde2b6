"""Stub libraries for the CUDA libraries that the index's aarch64 torch names but the CPU path never calls.

torch's aarch64 wheel is a CUDA build: libtorch_cpu, libtorch_python and libtorch_cuda list cudart,
cublas, cudnn, nccl, … as needed libraries (2.8 GB of wheels, not all of them on the index). For
each needed library that neither the wheels nor the rootfs provide, this builds one with the same
soname and symbol versions, defining every symbol the wheels import from it (from their own
dynamic symbol tables, read with readelf) as a function that returns 100 ("no device"). The
dynamic loader is satisfied, ``torch.cuda.is_available()`` is False, and nothing else changes.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def _readelf(args: list[str], path: Path) -> str:
    return subprocess.run(["readelf", "-W", *args, str(path)], capture_output=True, text=True, check=True).stdout


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


def build_stubs(site: Path, rootfs: Path, stubs: Path, run: Callable[[list[str]], None]) -> dict[str, int]:
    """Stub libraries for every needed library that neither the wheels nor the rootfs provide."""
    elfs = _elfs(site)
    present = {p.name for p in elfs}
    sys_libs = [d for d in (rootfs / "lib/aarch64-linux-gnu", rootfs / "usr/lib/aarch64-linux-gnu") if d.is_dir()]
    for d in sys_libs:
        present |= {p.name for p in d.iterdir()}
    missing: dict[str, dict[str, dict[str, str]]] = {}
    defined: set[str] = set()
    undefined: list[tuple[str, str | None]] = []
    for p in elfs:
        for m in re.finditer(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", _readelf(["-d"], p)):
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
            defined |= {n.partition("@")[0] for n, _t, _b, ndx in _dynsyms(p) if ndx != "UND"}
    version_file: dict[str, str] = {}
    for p in elfs:
        current: str | None = None
        for line in _readelf(["-V"], p).splitlines():
            file = re.search(r"File: (\S+)", line)
            version = re.search(r"Name: (\S+)\s+Flags", line)
            if file is not None:
                current = file.group(1)
            elif version is not None and current is not None and current in missing:
                version_file[version.group(1)] = current
                missing[current].setdefault(version.group(1), {})
    unversioned: dict[str, str] = {}
    for wanted, needs in undefined:
        if needs is not None and needs in version_file:
            missing[version_file[needs]][needs][wanted] = needs
        elif needs is None and wanted not in defined:
            unversioned[wanted] = ""
    stubs.mkdir(parents=True)
    counts = {}
    # Unversioned references bind to whichever loaded library defines them; libcudart always loads.
    holder = next((lib for lib in sorted(missing) if lib.startswith("libcudart")), min(missing, default=None))
    for lib, versions in sorted(missing.items()):
        syms = sorted({s for v in versions.values() for s in v} | (set(unversioned) if lib == holder else set()))
        asm = [".text"] + [
            line for s in syms for line in (f".globl {s}", f".type {s}, %function", f"{s}:", "  mov w0, #100", "  ret")
        ]
        script = [f"{v} {{ global: {'; '.join(sorted(s))}; }};" if s else f"{v} {{ }};" for v, s in versions.items()]
        with tempfile.TemporaryDirectory() as td:
            Path(td, "stub.s").write_text("\n".join(asm) + "\n")
            run(["aarch64-linux-gnu-as", "-o", f"{td}/stub.o", f"{td}/stub.s"])
            cmd = ["aarch64-linux-gnu-ld", "-shared", "-soname", lib, "-o", str(stubs / lib), f"{td}/stub.o"]
            if script:
                Path(td, "versions").write_text("\n".join(script) + "\n")
                cmd += ["--version-script", f"{td}/versions"]
            run(cmd)
        counts[lib] = len(syms)
    return counts
