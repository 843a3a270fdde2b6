"""A QEMU prefix per CPU model: what the guest reads as /proc/cpuinfo and /sys/devices/system/cpu.

QEMU 7.2 passes the host's x86 ``/proc/cpuinfo`` through to an aarch64 guest, on which oneDNN's
xbyak_aarch64 crashes ``import torch``. qemu-user opens a path under its prefix (``QEMU_LD_PREFIX``)
before the real one, so a prefix holding the board's files is what the guest sees: the rootfs's
folders linked in, and ``proc/`` and ``sys/`` of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

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
