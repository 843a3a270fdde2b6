/**
 * Which devices are quarantined, derived from the history store's facts (run records and health
 * reports, both append-only) rather than kept in a state file: nothing to lock, nothing to get out
 * of step, and the same answer from every reader of the same store. Pure.
 *
 * A device's events are replayed in time order (runs by `started_at`, health reports by
 * `checked_at`):
 * - a health report `good` lifts a quarantine and starts the infrastructure count afresh (for a
 *   device in service it changes nothing);
 * - `bad` or `unknown` quarantines it (health failed, or could not be established);
 * - `maintenance` takes it out of service until a later report says otherwise;
 * - a run on the device that ended in `infra-error` or `timeout` adds one to the count, and the
 *   K-th in a row (matrix `health.quarantine_after_infra_errors`) quarantines it;
 * - a run on the device that reached a verdict (`pass`, or `fail`: the model broke, the board
 *   worked) resets the count, but does not lift a quarantine: only a passing health check does.
 *
 * "On the device" means the record has an `execute` stage: a build stage's infrastructure error
 * happened on a build runner, and says nothing about the board. `cancelled` says nothing either.
 *
 * Why a good check lifts a quarantine but does not reset the count otherwise: a device job's own
 * pre-flight check passes before each execute; if those were stored and reset the count, a board
 * that passes its checks but then loses every run would never be quarantined.
 *
 * None of this turns an infrastructure error into a verdict about a model: quarantined devices'
 * cells are *skipped* by the plan, with the reason, and infra records stay `infra` in reports.
 */
import type { HealthReport, HealthState } from "../schemas/health-report.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export const DEVICE_STATES_SCHEMA = "pte-farm/device-states@1";

const INFRA_STATUSES: ReadonlySet<RunRecord["status"]> = new Set(["infra-error", "timeout"]);
const VERDICT_STATUSES: ReadonlySet<RunRecord["status"]> = new Set(["pass", "fail"]);

export interface DeviceStatus {
  device: string;
  /** The last health report's state; null: never checked (not a reason to quarantine). */
  health: { state: HealthState; checked_at: string } | null;
  quarantined: boolean;
  /** Why, for people and for the plan's skip reasons; null when not quarantined. */
  reason: string | null;
  /** Infrastructure errors in a row, counted as described above. */
  infra_streak: number;
}

export interface DeviceStates {
  schema: typeof DEVICE_STATES_SCHEMA;
  quarantine_after_infra_errors: number;
  devices: DeviceStatus[];
}

/**
 * What the rules read of a run record: readers that hold many runs (the dashboard replays every
 * night of every device) keep just this much of each.
 */
export type DeviceRun = { cell: Pick<RunRecord["cell"], "id" | "device"> } & Pick<
  RunRecord,
  "started_at" | "status" | "stages"
>;

/** A run executed on its device (so its outcome is evidence about the device). */
export function ranOnDevice(r: Pick<RunRecord, "stages">): boolean {
  return r.stages.some((s) => s.stage === "execute");
}

type Event = { at: string; order: number; run?: DeviceRun; health?: HealthReport };

function reasonOfReport(h: HealthReport): string {
  if (h.state === "maintenance")
    return `in maintenance since ${h.checked_at}: ${h.maintenance ?? "(no reason given)"}`;
  const why = h.checks
    .filter((c) => c.status === (h.state === "bad" ? "fail" : "unknown"))
    .map((c) => `${c.name}: ${c.detail}`)
    .join("; ");
  return `health check ${h.state} at ${h.checked_at}${why === "" ? "" : ` (${why})`}`;
}

/** One device's status from its runs and health reports (any order; other devices' are ignored). */
export function deviceStatus(
  device: string,
  runs: readonly DeviceRun[],
  reports: readonly HealthReport[],
  quarantineAfter: number,
): DeviceStatus {
  const events: Event[] = [
    ...runs.filter((r) => r.cell.device === device).map((run, order) => ({ at: run.started_at, order, run })),
    ...reports
      .filter((h) => h.device === device)
      .map((health, order) => ({ at: health.checked_at, order, health })),
  ];
  // Same instant: the health report first (a pre-flight check precedes its job's execute).
  events.sort(
    (a, b) =>
      a.at.localeCompare(b.at) ||
      Number(b.health !== undefined) - Number(a.health !== undefined) ||
      a.order - b.order,
  );

  let healthReason: string | null = null;
  let infraReason: string | null = null;
  let streak = 0;
  let last: DeviceStatus["health"] = null;
  for (const e of events) {
    if (e.health !== undefined) {
      last = { state: e.health.state, checked_at: e.health.checked_at };
      if (e.health.state === "good") {
        // Lifts a quarantine and counts afresh; a good check of a device in service changes nothing.
        if (healthReason !== null || infraReason !== null) streak = 0;
        healthReason = null;
        infraReason = null;
      } else {
        healthReason = reasonOfReport(e.health);
      }
      continue;
    }
    const run = e.run as DeviceRun;
    if (!ranOnDevice(run)) continue;
    if (INFRA_STATUSES.has(run.status)) {
      streak += 1;
      if (streak >= quarantineAfter) {
        infraReason = `${streak} infrastructure errors in a row (last: ${run.cell.id} ${run.status} at ${run.started_at})`;
      }
    } else if (VERDICT_STATUSES.has(run.status)) {
      streak = 0;
    }
  }
  const reasons = [healthReason, infraReason].filter((r): r is string => r !== null);
  return {
    device,
    health: last,
    quarantined: reasons.length > 0,
    reason: reasons.length === 0 ? null : reasons.join("; "),
    infra_streak: streak,
  };
}

/** Every named device's status, in the order given. */
export function deviceStates(
  devices: readonly string[],
  runs: readonly DeviceRun[],
  reports: readonly HealthReport[],
  quarantineAfter: number,
): DeviceStates {
  return {
    schema: DEVICE_STATES_SCHEMA,
    quarantine_after_infra_errors: quarantineAfter,
    devices: devices.map((d) => deviceStatus(d, runs, reports, quarantineAfter)),
  };
}

/** device → reason, for the plan: only quarantined devices. */
export function quarantinedDevices(states: DeviceStates): Map<string, string> {
  return new Map(states.devices.filter((d) => d.quarantined).map((d) => [d.device, d.reason ?? ""]));
}
