/**
 * Per-rep telemetry and the thermal cool-down for native drivers, the TypeScript side of what the
 * Python runtime's stage does (stages/pte_stages/probes/telemetry.py): before each measured rep, wait
 * until the hottest zone is below the device's `thermal.cooldown_below_c`, then read the zones and
 * CPU clocks before and after it. A rep that started hot is flagged, never silently averaged in.
 * Throttle history (vcgencmd, pmset) is not read here: `throttled` is null.
 */

import type { Logger } from "../core/logger.ts";
import { sampleTelemetry } from "../records/host-info.ts";
import type { RepTelemetry, StageSpec } from "../schemas/stage.ts";

export type Cooldown = NonNullable<StageSpec["execute"]["cooldown"]>;

export async function repReading(rep: number, phase: "before" | "after"): Promise<RepTelemetry> {
  const s = await sampleTelemetry(`rep-${rep}-${phase}`);
  return { rep, phase, thermal_c: s.thermal_c, cpu_mhz: s.cpu_mhz, throttled: null };
}

function hottest(r: { thermal_c: Record<string, number> }): number | null {
  const values = Object.values(r.thermal_c);
  return values.length === 0 ? null : Math.max(...values);
}

/**
 * Waits until the hottest zone reads below `below_c`, or `max_wait_s` passed (then the rep is
 * "hot"). A machine without thermal zones never waits.
 */
export async function coolDown(
  cooldown: Cooldown | undefined,
  logger: Logger,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<{ waitedS: number; hot: boolean }> {
  if (cooldown === undefined) return { waitedS: 0, hot: false };
  const started = performance.now();
  const poll = (cooldown.poll_s ?? 2) * 1000;
  for (;;) {
    const t = hottest(await sampleTelemetry("cooldown"));
    const waitedS = (performance.now() - started) / 1000;
    if (t === null || t < cooldown.below_c) return { waitedS, hot: false };
    if (waitedS >= cooldown.max_wait_s) {
      logger.warn(
        `still ${t.toFixed(1)} °C after ${cooldown.max_wait_s} s of cool-down (target below ${cooldown.below_c} °C): ` +
          "this rep is flagged hot",
      );
      return { waitedS, hot: true };
    }
    await sleep(poll);
  }
}
