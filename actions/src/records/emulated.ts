/**
 * A record from an emulated device (QEMU user mode) carries `device.emulation`. Its tokens and gate
 * count fully; its timings and memory are QEMU's on some x86_64 host, never the board's, so no
 * speed verdict, change point, regression issue or roofline is drawn from them. The `.pte` size
 * is the artefact's, and counts.
 */
import type { RunRecord } from "../schemas/run-record.ts";

/** Metrics that describe the artefact, not the machine: the same under emulation. */
export const ARTEFACT_METRICS = new Set(["pte_bytes"]);

export function isEmulated(r: Pick<RunRecord, "device">): boolean {
  return r.device.emulation !== undefined;
}

/** Whether a metric of this record may feed a performance verdict. */
export function timingCounts(r: Pick<RunRecord, "device">, metric: string): boolean {
  return !isEmulated(r) || ARTEFACT_METRICS.has(metric);
}

export const EMULATED_NOTE =
  "emulated device: timings are QEMU's, not the board's, and give no speed verdict";
