"""The health check's thermal reading: telemetry.py's readers and decoders, printed once as JSON.

Why a module and not TypeScript: the sysfs readers and the ``vcgencmd get_throttled`` and
``pmset -g therm`` decoders already live in :mod:`pte_stages.probes.telemetry`, where execute uses them
for per-rep flags; the health check asks the same code rather than keeping a second copy. Policy
(what temperature or which bits make a board unhealthy) is the orchestrator's
(actions/src/health/thermal.ts). It imports no torch, so it answers in well under a second.

    python -m pte_stages.probes.device_probe [--root /]

prints ``{"schema": "pte-farm/device-probe@1", "platform": ..., "thermal_c": {zone: °C},
"throttled": {...} | null}``; ``throttled`` is ``throttle_state()``: the decoded vcgencmd bits on
a Pi, pmset's speed limit and warnings on a Mac, null where neither tool exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .telemetry import thermal_zones, throttle_state

PROBE_SCHEMA = "pte-farm/device-probe@1"


def probe(root: Path = Path("/")) -> dict[str, Any]:
    return {
        "schema": PROBE_SCHEMA,
        "platform": sys.platform,
        "thermal_c": thermal_zones(root),
        "throttled": throttle_state(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pte_stages.probes.device_probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--root", type=Path, default=Path("/"), help="file system root for sysfs (tests)")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
