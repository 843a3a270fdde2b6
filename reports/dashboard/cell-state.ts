/**
 * A cell's state on the overview, from its newest record and its change points (pure). The words
 * are the ones the PR comment and the nightly issues use, so a square reads like a report line:
 *
 * - **infra**: the newest run ended `infra-error`, `timeout` or `cancelled` — the farm's problem,
 *   never a verdict about the model (reports/cell-report.ts isInfra);
 * - **gate-failed**: the tokens diverged from the reference (the first divergence is named);
 * - **stage-failed**: a stage failed, with the known issue its triage matched;
 * - **regression**: the newest change point of a metric is for the worse (the series still sits at
 *   it), confirmed or a candidate (reports/dashboard/cell-page.ts says which);
 * - **inconclusive**: the newest night passed but has no clean rep (every rep flagged hot or
 *   throttled), or the series is too short for the change-point test to say anything;
 * - **pass**: none of the above. An emulated device's pass is labelled so (its timings are QEMU's).
 *
 * Two states depend on the whole farm and are applied afterwards ({@link withFarmState}):
 * **quarantined** (the device's derived quarantine, health/quarantine.ts) and **skipped** (the cell
 * did not run on the farm's newest night: not planned, or its device was out).
 */
import type { ChangePoint } from "../../actions/src/compare/detect.ts";
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";
import { DEFAULT_CHANGE_POINT_OPTIONS } from "../../actions/src/stats/changepoint.ts";
import { isInfra } from "../cell-report.ts";
import type { CellState, OverviewCell } from "./model.ts";

/** The fewest nights the change-point test can split (two segments). */
export const MIN_NIGHTS = 2 * DEFAULT_CHANGE_POINT_OPTIONS.minSegment;

export const SHORT_METRIC: Record<string, string> = {
  decode_tokens_per_sec: "decode",
  prefill_tokens_per_sec: "prefill",
  first_token_ms: "first token",
  peak_rss_mb: "peak RSS",
};

export interface StateOf {
  state: CellState;
  label: string;
  detail: string;
}

/** A metric's newest change point, with whether it is for the worse and confirmed. */
export interface LatestChange {
  metric: string;
  cp: ChangePoint;
  worse: boolean;
  confirmed: boolean;
}

const pct = (ratio: number) => `${ratio >= 1 ? "+" : "−"}${(Math.abs(ratio - 1) * 100).toFixed(1)}%`;
const day = (iso: string) => iso.slice(0, 10);

export function stateOfRecord(
  latest: RunRecord,
  changes: readonly LatestChange[],
  opts: { nights: number; cleanReps: number },
): StateOf {
  if (isInfra(latest)) {
    const why = latest.failure?.message ?? "no message";
    return {
      state: "infra",
      label: latest.status,
      detail: `${latest.status} on ${day(latest.started_at)}: ${why}`,
    };
  }
  if (latest.status === "fail" && latest.gate?.verdict === "fail") {
    const d = latest.gate.first_divergence;
    return {
      state: "gate-failed",
      label: d === null ? "gate failed" : `diverged at token ${d.position}`,
      detail: `the tokens failed the gate on ${day(latest.started_at)}${latest.failure ? `: ${latest.failure.message}` : ""}`,
    };
  }
  if (latest.status === "fail") {
    const f = latest.failure;
    const known = f?.known_issue ?? null;
    return {
      state: "stage-failed",
      label: `${f?.stage ?? "a stage"} failed${known === null ? "" : " (known)"}`,
      detail: `${f?.stage ?? "a stage"} failed (${f?.outcome ?? "fail"})${known === null ? "" : `, known issue ${known}`}: ${f?.message ?? ""}`,
    };
  }
  const regressions = changes.filter((c) => c.worse);
  const worst = regressions.find((c) => c.confirmed) ?? regressions[0];
  if (worst !== undefined) {
    const name = SHORT_METRIC[worst.metric] ?? worst.metric;
    const how = worst.confirmed ? "confirmed" : "candidate";
    return {
      state: "regression",
      label: `${pct(worst.cp.ratio)} ${name}, ${how}`,
      detail: `${how} regression: ${worst.metric} ${pct(worst.cp.ratio)} since ${day(worst.cp.started_at)}`,
    };
  }
  const emulated = latest.device.emulation !== undefined;
  if (emulated) {
    return {
      state: "pass",
      label: "pass (emulated)",
      detail: `passed on ${day(latest.started_at)}; emulated device: tokens only, no speed verdict`,
    };
  }
  if (opts.cleanReps === 0) {
    return {
      state: "inconclusive",
      label: "no clean reps",
      detail: `every rep of ${day(latest.started_at)} was flagged (hot or throttled): no figure to judge`,
    };
  }
  if (opts.nights < MIN_NIGHTS) {
    return {
      state: "inconclusive",
      label: `${opts.nights} nights`,
      detail: `${opts.nights} nights of history; the change-point test needs ${MIN_NIGHTS}`,
    };
  }
  return { state: "pass", label: "pass", detail: `passed on ${day(latest.started_at)}` };
}

/**
 * The overview entry with the farm-wide states applied: a quarantined device's cells are
 * quarantined (with why), and a cell that did not run on the farm's newest night is skipped.
 */
export function withFarmState(
  cell: OverviewCell,
  farm: { quarantined: ReadonlyMap<string, string>; latestNight: string | null },
): OverviewCell {
  const reason = farm.quarantined.get(cell.device);
  if (reason !== undefined) {
    return {
      ...cell,
      state: "quarantined",
      label: "quarantined",
      detail: `device ${cell.device} quarantined: ${reason}`,
    };
  }
  if (farm.latestNight !== null && day(cell.latest) < day(farm.latestNight)) {
    return {
      ...cell,
      state: "skipped",
      label: `last ran ${day(cell.latest)}`,
      detail: `skipped: not run on ${day(farm.latestNight)} (not planned, or its device was out); last ran ${day(cell.latest)}`,
    };
  }
  return cell;
}
