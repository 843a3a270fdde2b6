"""Per-rep device telemetry, read inside the execute process, and the cool-down before a rep.

Why in Python and not in the orchestrator: the samples must bracket each rep, and only the process
that runs the reps knows when one starts and ends. Everything here is best-effort and never raises:
a container without ``/sys/class/thermal`` or a Mac without ``vcgencmd`` just reports less.

The decoders (:func:`decode_throttled`, :func:`parse_pmset_therm`) are pure and tested on real output;
the readers take a ``root`` so tests can point them at a fake sysfs tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation, "get_throttled").
THROTTLED_BITS = {
    0: "under_voltage",
    1: "arm_freq_capped",
    2: "throttled",
    3: "soft_temp_limit",
    16: "under_voltage_occurred",
    17: "arm_freq_capped_occurred",
    18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}
# Bits that mean *this* rep ran slower than the board can: the "occurred" bits are history.
SLOWING_NOW = ("arm_freq_capped", "throttled", "soft_temp_limit")
# With the `performance` governor a core below this fraction of its max is being capped.
CPUFREQ_CAPPED_FRACTION = 0.9


def decode_throttled(value: int) -> dict[str, bool]:
    """``0x50005`` → under_voltage, throttled, and both "occurred" bits set; every name is present."""
    return {name: bool(value >> bit & 1) for bit, name in THROTTLED_BITS.items()}


def parse_get_throttled(text: str) -> int | None:
    """The integer in ``throttled=0x50005`` (vcgencmd's output), or None if the text is not that."""
    m = re.search(r"throttled=(0x[0-9a-fA-F]+|\d+)", text)
    return int(m.group(1), 0) if m else None


def parse_pmset_therm(text: str) -> dict[str, Any]:
    """``pmset -g therm`` (readable without root on macOS): CPU speed limit in percent, warning levels.

    Returns ``{"cpu_speed_limit": int | None, "thermal_warning": str | None,
    "performance_warning": str | None}``; a "No ... has been recorded" note means no warning (None).
    """
    out: dict[str, Any] = {"cpu_speed_limit": None, "thermal_warning": None, "performance_warning": None}
    m = re.search(r"CPU_Speed_Limit\s*=\s*(\d+)", text)
    if m:
        out["cpu_speed_limit"] = int(m.group(1))
    for key, label in (("thermal_warning", "thermal"), ("performance_warning", "performance")):
        lm = re.search(rf"^.*{label} warning level.*$", text, re.MULTILINE | re.IGNORECASE)
        if lm and "no " not in lm.group(0).lower():
            out[key] = lm.group(0).strip()
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _number(path: Path) -> float | None:
    text = _read(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def thermal_zones(root: Path = Path("/")) -> dict[str, float]:
    """``{"thermal_zone0:cpu-thermal": 47.2}`` in °C, from sysfs millidegrees."""
    out: dict[str, float] = {}
    base = root / "sys/class/thermal"
    for zone in sorted(base.glob("thermal_zone*")):
        milli = _number(zone / "temp")
        if milli is not None:
            out[f"{zone.name}:{_read(zone / 'type') or zone.name}"] = round(milli / 1000, 2)
    return out


def cpufreq(root: Path = Path("/")) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Current MHz, max MHz (``cpuinfo_max_freq``) and governor, per core that exposes cpufreq."""
    cur: dict[str, float] = {}
    top: dict[str, float] = {}
    gov: dict[str, str] = {}
    for cpu in sorted((root / "sys/devices/system/cpu").glob("cpu[0-9]*")):
        d = cpu / "cpufreq"
        khz = _number(d / "scaling_cur_freq")
        if khz is None:
            continue
        cur[cpu.name] = round(khz / 1000, 1)
        mx = _number(d / "cpuinfo_max_freq")
        if mx is not None:
            top[cpu.name] = round(mx / 1000, 1)
        g = _read(d / "scaling_governor")
        if g is not None:
            gov[cpu.name] = g
    return cur, top, gov


def _command(argv: list[str]) -> str | None:
    """Output of a read-only tool if it is installed; None otherwise or on any failure."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def throttle_state() -> dict[str, Any] | None:
    """Pi: decoded ``vcgencmd get_throttled``; macOS: ``pmset -g therm``; elsewhere None."""
    text = _command(["vcgencmd", "get_throttled"])
    value = parse_get_throttled(text) if text else None
    if value is not None:
        return {"source": "vcgencmd", "raw": hex(value), **decode_throttled(value)}
    if sys.platform == "darwin":
        therm = _command(["pmset", "-g", "therm"])
        if therm is not None:
            return {"source": "pmset", **parse_pmset_therm(therm)}
    return None


def snapshot(rep: int, phase: str, root: Path = Path("/"), throttle: bool = True) -> dict[str, Any]:
    """One telemetry sample as execute data carries it (stages/README.md, ``telemetry``)."""
    cur, top, gov = cpufreq(root)
    return {
        "rep": rep,
        "phase": phase,
        "thermal_c": thermal_zones(root),
        "cpu_mhz": cur,
        "cpu_max_mhz": top,
        "governor": gov,
        "throttled": throttle_state() if throttle else None,
    }


def rep_flags(samples: list[dict[str, Any]], hot: bool = False) -> list[str]:
    """Why a rep's numbers are not comparable with the others: ``throttled`` and/or ``hot``.

    Throttled: a vcgencmd "now" bit (capped, throttled, soft limit) or a pmset speed limit under
    100% in the before or after sample, or, under the ``performance`` governor only, a core below
    :data:`CPUFREQ_CAPPED_FRACTION` of its max (other governors idle low on purpose).
    """
    throttled = False
    for s in samples:
        t = s.get("throttled") or {}
        if any(t.get(k) for k in SLOWING_NOW):
            throttled = True
        limit = t.get("cpu_speed_limit")
        if isinstance(limit, int) and limit < 100:
            throttled = True
        for cpu, mhz in s.get("cpu_mhz", {}).items():
            top = s.get("cpu_max_mhz", {}).get(cpu)
            if s.get("governor", {}).get(cpu) == "performance" and top and mhz < CPUFREQ_CAPPED_FRACTION * top:
                throttled = True
    return (["throttled"] if throttled else []) + (["hot"] if hot else [])


def cool_down(
    read_max_c: Callable[[], float | None],
    below_c: float,
    max_wait_s: float,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[float, bool]:
    """Polls until the hottest zone is below ``below_c``; returns (seconds waited, still hot).

    No readable zone means nothing to wait for: (0, False). Still hot after ``max_wait_s``: the rep
    runs anyway and is flagged ``hot``, so a stuck sensor cannot hang a job.
    """
    start = clock()
    while True:
        temp = read_max_c()
        if temp is None or temp < below_c:
            return round(clock() - start, 3), False
        if clock() - start >= max_wait_s:
            return round(clock() - start, 3), True
        sleep(poll_s)


def max_zone_c(root: Path = Path("/")) -> float | None:
    zones = thermal_zones(root)
    return max(zones.values()) if zones else None
