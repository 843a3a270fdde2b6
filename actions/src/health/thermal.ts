/**
 * The temperature and throttle checks. The readings come from `python -m pte_stages.probes.device_probe`,
 * which prints what stages/pte_stages/probes/telemetry.py reads and decodes (sysfs thermal zones, the
 * Pi's `vcgencmd get_throttled` bits, the Mac's `pmset -g therm`): execute uses the same code for
 * its per-rep flags, so the bit layout is written down once, in Python. What counts as unhealthy
 * is decided here, by pure functions tested on the decoder's real output.
 *
 * Why the throttle *history* fails a board: the Pi's "occurred" bits (16–19) stay set from the
 * first under-voltage or thermal cap until reboot. A board that has been throttled or starved of
 * power since boot will do it again mid-benchmark; its numbers would look like a regression. Fix
 * the power supply or cooling, reboot (which clears the bits), and the check passes again.
 */
import path from "node:path";
import { execa } from "execa";
import type { DeviceDef } from "../../../matrix/types.ts";
import { STAGES_DIR } from "../core/paths.ts";
import {
  type Infer,
  literal,
  nullable,
  num,
  obj,
  parseJson,
  record,
  str,
  unknownValue,
} from "../core/validate.ts";
import type { CheckResult, HealthCheck, ThermalExpectations } from "./checks.ts";

/** What the Python probe prints (`pte-farm/device-probe@1`). */
const deviceProbe = obj({
  schema: literal("pte-farm/device-probe@1"),
  platform: str,
  thermal_c: record(num),
  throttled: nullable(record(unknownValue)),
});
export type DeviceProbe = Infer<typeof deviceProbe>;

type Verdict = Omit<CheckResult, "name">;

/** The Pi firmware's names (telemetry.THROTTLED_BITS): the condition now, and since boot. */
const NOW_BITS = ["under_voltage", "arm_freq_capped", "throttled", "soft_temp_limit"] as const;
const OCCURRED_BITS = NOW_BITS.map((b) => `${b}_occurred`);

/** The thermal expectations of a farm device: a Pi must have vcgencmd, a Mac pmset, a cooled board zones. */
export function thermalExpectations(
  device: Pick<DeviceDef, "os" | "board" | "thermal"> & { emulation?: DeviceDef["emulation"] },
): ThermalExpectations {
  // An emulated board has no sensors of its own: the host's, if any, are read but not required.
  const emulated = (device.emulation ?? null) !== null;
  return {
    thermalZones: device.os === "linux" && device.thermal !== null && !emulated,
    throttleSource: emulated
      ? null
      : device.board.startsWith("raspberry-pi")
        ? "vcgencmd"
        : device.os === "macos"
          ? "pmset"
          : null,
  };
}

/** Runs the probe; throws (→ the check is unknown) when the interpreter or the probe cannot run. */
export async function readDeviceProbe(
  python: string,
  opts: { root?: string; env?: Record<string, string> } = {},
): Promise<DeviceProbe> {
  const res = await execa(
    python,
    ["-m", "pte_stages.probes.device_probe", ...(opts.root === undefined ? [] : ["--root", opts.root])],
    {
      reject: false,
      timeout: 30_000,
      env: {
        ...opts.env,
        PYTHONPATH: [STAGES_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      },
    },
  );
  if (res.exitCode !== 0) {
    const tail = String(res.stderr).trim().split("\n").slice(-2).join(" | ");
    throw new Error(`the device probe did not run (${tail || res.shortMessage})`);
  }
  return parseJson(deviceProbe, String(res.stdout), "python -m pte_stages.probes.device_probe");
}

/** Linux: the hottest zone against the limit. macOS (no zones): pmset's thermal warning level. */
export function judgeTemperature(p: DeviceProbe, maxTempC: number, expect: ThermalExpectations): Verdict {
  const zones = Object.entries(p.thermal_c);
  if (zones.length > 0) {
    const [zone, c] = zones.reduce((a, b) => (b[1] > a[1] ? b : a));
    const ok = c < maxTempC;
    return {
      status: ok ? "pass" : "fail",
      detail: `hottest zone ${zone} at ${c} °C${ok ? `, below ${maxTempC} °C` : `, at or above the ${maxTempC} °C limit: let it cool or fix its cooling`}`,
      data: { thermal_c: p.thermal_c, max_temp_c: maxTempC },
    };
  }
  const t = p.throttled;
  if (t?.source === "pmset") {
    const warning = typeof t.thermal_warning === "string" ? t.thermal_warning : null;
    return {
      status: warning === null ? "pass" : "fail",
      detail: warning === null ? "pmset: no thermal warning level recorded" : `pmset: ${warning}`,
      data: { pmset: t },
    };
  }
  if (expect.thermalZones || expect.throttleSource === "pmset") {
    return {
      status: "unknown",
      detail:
        expect.throttleSource === "pmset"
          ? "`pmset -g therm` gave nothing; this Mac's temperature cannot be read"
          : "no readable thermal zone under /sys/class/thermal, and this device has a thermal policy",
    };
  }
  return { status: "skip", detail: "no thermal sensor on this machine (and none expected)" };
}

/** A Pi: any "now" or "occurred" bit fails. A Mac: a CPU speed limit below 100% or a performance warning. */
export function judgeThrottle(p: DeviceProbe, expect: ThermalExpectations): Verdict {
  const t = p.throttled;
  if (t?.source === "vcgencmd") {
    const now = NOW_BITS.filter((b) => t[b] === true);
    const past = OCCURRED_BITS.filter((b) => t[b] === true);
    const raw = String(t.raw);
    if (now.length === 0 && past.length === 0) {
      return {
        status: "pass",
        detail: `vcgencmd get_throttled=${raw}: no throttling or under-voltage since boot`,
        data: { vcgencmd: t },
      };
    }
    return {
      status: "fail",
      detail:
        `vcgencmd get_throttled=${raw}: ${[...now, ...past].join(", ")}` +
        (past.length > 0 ? "; fix the power supply or cooling, then reboot to clear the history bits" : ""),
      data: { vcgencmd: t, now, occurred: past },
    };
  }
  if (t?.source === "pmset") {
    const limit = typeof t.cpu_speed_limit === "number" ? t.cpu_speed_limit : null;
    const warning = typeof t.performance_warning === "string" ? t.performance_warning : null;
    const capped = limit !== null && limit < 100;
    const problems = [
      ...(capped ? [`CPU speed limited to ${limit}%`] : []),
      ...(warning === null ? [] : [warning]),
    ];
    return {
      status: problems.length === 0 ? "pass" : "fail",
      detail: `pmset: ${problems.length === 0 ? `CPU speed limit ${limit ?? 100}%, no performance warning` : problems.join("; ")}`,
      data: { pmset: t },
    };
  }
  if (expect.throttleSource !== null) {
    return {
      status: "unknown",
      detail: `\`${expect.throttleSource === "vcgencmd" ? "vcgencmd get_throttled" : "pmset -g therm"}\` is not available on this ${expect.throttleSource === "vcgencmd" ? "Pi" : "Mac"}; install it (runners/ provisioning does)`,
    };
  }
  return { status: "skip", detail: "no throttle reporting on this machine (and none expected)" };
}

/**
 * Both checks read one probe; it is memoised per context so a health check runs Python once for
 * them. The key is the context object itself: a new check is a new context.
 */
const probes = new WeakMap<object, Promise<DeviceProbe>>();
function probeFor(ctx: Parameters<HealthCheck["run"]>[0]): Promise<DeviceProbe> {
  let p = probes.get(ctx);
  if (p === undefined) {
    p = readDeviceProbe(ctx.python, ctx.probe ?? {});
    probes.set(ctx, p);
  }
  return p;
}

export const temperatureCheck: HealthCheck = {
  name: "temperature",
  run: async (ctx) => judgeTemperature(await probeFor(ctx), ctx.maxTempC, ctx.expect),
};

export const throttleCheck: HealthCheck = {
  name: "throttle",
  run: async (ctx) => judgeThrottle(await probeFor(ctx), ctx.expect),
};
