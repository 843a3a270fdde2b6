"""The health check's Python helpers: the smoke `.pte` (built and run for real) and the device probe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pte_stages.probes.device_probe import probe
from pte_stages.probes.smoke import build, run

STAGES = Path(__file__).resolve().parents[1]


def test_smoke_pte_runs_on_the_executorch_runtime_and_matches_eager(tmp_path: Path) -> None:
    meta = build(tmp_path)
    assert meta["expected"] == [[0.75, -1.0, 10.0, 96.0]]
    result = run(tmp_path)
    assert result["ok"] is True
    assert result["actual"] == meta["expected"]


def test_smoke_run_exits_1_when_the_program_disagrees_with_the_recorded_outputs(tmp_path: Path) -> None:
    build(tmp_path)
    meta = json.loads((tmp_path / "smoke.json").read_text())
    meta["expected"] = [[0.0, 0.0, 0.0, 0.0]]
    (tmp_path / "smoke.json").write_text(json.dumps(meta))
    proc = subprocess.run(
        [sys.executable, "-m", "pte_stages.probes.smoke", "run", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=STAGES,
        env={**os.environ, "PYTHONPATH": str(STAGES)},
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["ok"] is False


def test_device_probe_reports_zones_of_a_sysfs_tree_and_no_throttle_source_without_the_tools(tmp_path: Path) -> None:
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("52100\n")
    out = probe(tmp_path)
    assert out["schema"] == "pte-farm/device-probe@1"
    assert out["thermal_c"] == {"thermal_zone0:cpu-thermal": 52.1}
    if sys.platform != "darwin":
        assert out["throttled"] is None or out["throttled"]["source"] == "vcgencmd"
