"""Telemetry decoders on real output, the flags a rep gets, and the cool-down loop (no sleeping)."""

from __future__ import annotations

from pathlib import Path

from pte_stages.probes.telemetry import (
    cool_down,
    cpufreq,
    decode_throttled,
    parse_get_throttled,
    parse_pmset_therm,
    rep_flags,
    thermal_zones,
)
from pte_stages.runtime import abba_order

# A MacBook Pro's `pmset -g therm`, as quoted in https://newbetuts.com/407192 (the documented output
# format: two "Note:" lines, then a "CPU Power notify" block with CPU_Speed_Limit in percent).
PMSET_THROTTLED = """Note: No thermal warning level has been recorded
Note: No performance warning level has been recorded
2020-11-24 13:10:40 +0100 CPU Power notify
    CPU_Scheduler_Limit     = 100
    CPU_Available_CPUs  = 8
    CPU_Speed_Limit     = 35
"""


def test_decodes_a_pi_that_is_under_voltage_and_throttled_now_and_before() -> None:
    value = parse_get_throttled("throttled=0x50005\n")
    assert value == 0x50005
    flags = decode_throttled(value)
    assert {k for k, v in flags.items() if v} == {
        "under_voltage",
        "throttled",
        "under_voltage_occurred",
        "throttled_occurred",
    }


def test_decodes_a_healthy_pi_as_all_clear() -> None:
    assert not any(decode_throttled(parse_get_throttled("throttled=0x0") or 0).values())


def test_decodes_the_soft_temperature_limit_now_and_occurred() -> None:
    flags = decode_throttled(parse_get_throttled("throttled=0x80008") or 0)
    assert {k for k, v in flags.items() if v} == {"soft_temp_limit", "soft_temp_limit_occurred"}


def test_rejects_text_that_is_not_vcgencmd_output() -> None:
    assert parse_get_throttled("VCHI initialization failed") is None


def test_parses_pmset_therm_in_its_documented_output_format() -> None:
    got = parse_pmset_therm(PMSET_THROTTLED)
    assert got == {"cpu_speed_limit": 35, "thermal_warning": None, "performance_warning": None}
    assert rep_flags([{"throttled": {"source": "pmset", **got}}]) == ["throttled"]


def test_flags_a_rep_throttled_only_for_bits_that_are_set_now() -> None:
    assert rep_flags([{"throttled": decode_throttled(0x50005)}]) == ["throttled"]
    # Only "has occurred" bits: something happened earlier, this rep ran at full speed.
    assert rep_flags([{"throttled": decode_throttled(0x50000)}]) == []
    assert rep_flags([{"throttled": None}], hot=True) == ["hot"]


def test_flags_a_capped_core_only_under_the_performance_governor() -> None:
    sample = {"cpu_mhz": {"cpu0": 1500.0}, "cpu_max_mhz": {"cpu0": 2400.0}, "governor": {"cpu0": "performance"}}
    assert rep_flags([sample]) == ["throttled"]
    assert rep_flags([{**sample, "governor": {"cpu0": "ondemand"}}]) == []


def _fake_sysfs(root: Path, milli_c: int) -> Path:
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text(f"{milli_c}\n")
    (zone / "type").write_text("cpu-thermal\n")
    cpu = root / "sys/devices/system/cpu/cpu0/cpufreq"
    cpu.mkdir(parents=True)
    (cpu / "scaling_cur_freq").write_text("2400000\n")
    (cpu / "cpuinfo_max_freq").write_text("2400000\n")
    (cpu / "scaling_governor").write_text("ondemand\n")
    return root


def test_reads_thermal_zones_and_cpufreq_from_sysfs(tmp_path: Path) -> None:
    root = _fake_sysfs(tmp_path, 61234)
    assert thermal_zones(root) == {"thermal_zone0:cpu-thermal": 61.23}
    assert cpufreq(root) == ({"cpu0": 2400.0}, {"cpu0": 2400.0}, {"cpu0": "ondemand"})
    assert thermal_zones(tmp_path / "nothing") == {}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


# @fault thermal | a board at 70, then 60, then 49.5 °C | execute waits until it is below 50 °C to measure
def test_cool_down_waits_until_the_board_is_below_the_threshold() -> None:
    clock = FakeClock()
    temps = iter([70.0, 60.0, 49.5])
    waited, hot = cool_down(lambda: next(temps), 50, 300, poll_s=5, sleep=clock.sleep, clock=clock)
    assert (waited, hot) == (10.0, False)


def test_cool_down_gives_up_after_max_wait_and_says_the_rep_is_hot() -> None:
    clock = FakeClock()
    waited, hot = cool_down(lambda: 80.0, 50, 30, poll_s=10, sleep=clock.sleep, clock=clock)
    assert (waited, hot) == (30.0, True)


def test_cool_down_does_not_wait_without_a_thermal_sensor() -> None:
    assert cool_down(lambda: None, 50, 300, sleep=lambda _s: None) == (0.0, False)


def test_abba_order_alternates_pairs_so_linear_drift_cancels() -> None:
    order = abba_order(4)
    assert order == ["base", "head", "head", "base", "base", "head", "head", "base"]
    # A drift of +1 per slot: the positions' sums are equal for both roles.
    assert sum(i for i, r in enumerate(order) if r == "base") == sum(i for i, r in enumerate(order) if r == "head")
