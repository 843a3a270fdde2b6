/**
 * The devices and releases pages, gathered while the build reads the history one cell at a time
 * (so the history is read once). Each record leaves a few numbers here, not itself:
 *
 * - devices: for the quarantine rules (health/quarantine.ts, the rules `plan` skips devices by),
 *   each run's time and status; for the temperature and throttling history, per device and night
 *   the hottest reading and how many reps were flagged;
 * - releases: the `.pte` and figures of each `release` record, grouped by commit.
 *
 * A device's quarantine needs only its runs that can change it: every infrastructure error, and a
 * verdict (pass, fail) right after one, which resets the count. A verdict after a verdict changes
 * nothing, so those are not handed to the rules (a million nights stay a few thousand events).
 */
import { type DeviceRun, deviceStatus, ranOnDevice } from "../../actions/src/health/quarantine.ts";
import { cleanSamples, flaggedCount, median } from "../../actions/src/records/samples.ts";
import type { HealthReport } from "../../actions/src/schemas/health-report.ts";
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";
import { seconds } from "./cell-page.ts";
import {
  cellKey,
  type DeviceEntry,
  type DevicesPage,
  type ReleaseEntry,
  type ReleasesPage,
} from "./model.ts";

const DAY_S = 86_400;
const EXECUTE: RunRecord["stages"] = [
  { stage: "execute", outcome: "ok", cache: "off", wall_s: 0, dir: "", log: null },
];

export interface Night {
  max: number | null;
  flagged: number;
  reps: number;
}

export interface DeviceAcc {
  /** Infrastructure errors on the device, whole (each can change the quarantine). */
  infra: { at: string; status: RunRecord["status"]; cell: string }[];
  /** When each verdict (pass, fail) ran, in ms: a million of them cost 8 MB, not objects. */
  verdicts: number[];
  nights: Map<number, Night>;
  cells: Set<string>;
  emulated: boolean;
}

function hottest(r: RunRecord): number | null {
  let max: number | null = null;
  for (const s of [...r.telemetry.samples, ...(r.telemetry.reps ?? [])])
    for (const c of Object.values(s.thermal_c)) if (max === null || c > max) max = c;
  return max;
}

/** What a FarmPages holds: plain Maps, Sets and arrays, so a worker thread can post it whole. */
export interface FarmSnapshot {
  devices: Map<string, DeviceAcc>;
  releases: Map<string, ReleaseEntry>;
}

export class FarmPages {
  private readonly devices = new Map<string, DeviceAcc>();
  private readonly releases = new Map<string, ReleaseEntry>();

  snapshot(): FarmSnapshot {
    return { devices: this.devices, releases: this.releases };
  }

  /** Adds what another FarmPages gathered (a worker's share of the cells). */
  merge(other: FarmSnapshot): void {
    for (const [device, d] of other.devices) {
      const mine = this.devices.get(device);
      if (mine === undefined) {
        this.devices.set(device, d);
        continue;
      }
      for (const r of d.infra) mine.infra.push(r);
      for (const v of d.verdicts) mine.verdicts.push(v);
      for (const c of d.cells) mine.cells.add(c);
      mine.emulated ||= d.emulated;
      for (const [day, n] of d.nights) {
        const m = mine.nights.get(day);
        if (m === undefined) mine.nights.set(day, n);
        else {
          if (n.max !== null && (m.max === null || n.max > m.max)) m.max = n.max;
          m.flagged += n.flagged;
          m.reps += n.reps;
        }
      }
    }
    for (const [key, r] of other.releases) {
      const mine = this.releases.get(key);
      if (mine === undefined) this.releases.set(key, r);
      else mine.files.push(...r.files);
    }
  }

  /** Notes one record (any role). */
  add(r: RunRecord): void {
    const device = r.cell.device;
    let d = this.devices.get(device);
    if (d === undefined) {
      d = { infra: [], verdicts: [], nights: new Map(), cells: new Set(), emulated: false };
      this.devices.set(device, d);
    }
    d.cells.add(r.cell.id);
    d.emulated ||= r.device.emulation !== undefined;
    if (ranOnDevice(r)) {
      if (r.status === "infra-error" || r.status === "timeout")
        d.infra.push({ at: r.started_at, status: r.status, cell: r.cell.id });
      else if (r.status === "pass" || r.status === "fail") d.verdicts.push(Date.parse(r.started_at));
    }
    const day = Math.floor(seconds(r.started_at) / DAY_S) * DAY_S;
    const night = d.nights.get(day) ?? { max: null, flagged: 0, reps: 0 };
    const hot = hottest(r);
    if (hot !== null && (night.max === null || hot > night.max)) night.max = hot;
    const decode = r.metrics.decode_tokens_per_sec;
    night.flagged += flaggedCount(decode);
    night.reps += decode?.samples.length ?? 0;
    d.nights.set(day, night);
    if (r.role === "release") this.addRelease(r);
  }

  private addRelease(r: RunRecord): void {
    const key = r.git_sha ?? r.started_at.slice(0, 10);
    let rel = this.releases.get(key);
    if (rel === undefined) {
      rel = { git_sha: r.git_sha, night: r.started_at, files: [] };
      this.releases.set(key, rel);
    }
    rel.files.push({
      cell: r.cell.id,
      key: cellKey(r.cell.id),
      sha256: r.pte?.sha256 ?? null,
      bytes: r.pte?.bytes ?? null,
      decode: median(cleanSamples(r.metrics.decode_tokens_per_sec)),
      gate: r.gate?.verdict ?? "none",
      status: r.status,
    });
  }

  /** Each device's quarantine (health reports of every device, any order) and history. */
  devicesPage(health: readonly HealthReport[], quarantineAfter: number): DevicesPage {
    const names = [...new Set([...this.devices.keys(), ...health.map((h) => h.device)])].sort();
    const devices = names.map((device): DeviceEntry => {
      const d = this.devices.get(device) ?? {
        infra: [],
        verdicts: [],
        nights: new Map(),
        cells: new Set(),
        emulated: false,
      };
      const mine = health.filter((h) => h.device === device);
      const status = deviceStatus(device, deciding(d, device), mine, quarantineAfter);
      const days = [...d.nights.keys()].sort((a, b) => a - b);
      return {
        device,
        health: status.health,
        quarantined: status.quarantined,
        reason: status.reason,
        infra_streak: status.infra_streak,
        reports: mine
          .toSorted((a, b) => b.checked_at.localeCompare(a.checked_at))
          .slice(0, 20)
          .map((h) => ({
            checked_at: h.checked_at,
            state: h.state,
            detail:
              h.checks
                .filter((c) => c.status !== "pass" && c.status !== "skip")
                .map((c) => `${c.name}: ${c.detail}`)
                .join("; ") ||
              (h.maintenance ?? ""),
          })),
        thermal: {
          t: days,
          max_c: days.map((t) => d.nights.get(t)?.max ?? null),
          flagged: days.map((t) => d.nights.get(t)?.flagged ?? 0),
          reps: days.map((t) => d.nights.get(t)?.reps ?? 0),
        },
        cells: d.cells.size,
        emulated: d.emulated,
      };
    });
    return { schema: "pte-farm/dashboard-devices@1", devices };
  }

  /** Quarantined devices and why (what the overview marks). */
  static quarantined(page: DevicesPage): Map<string, string> {
    return new Map(page.devices.filter((d) => d.quarantined).map((d) => [d.device, d.reason ?? ""]));
  }

  releasesPage(): ReleasesPage {
    const releases = [...this.releases.values()].sort((a, b) => b.night.localeCompare(a.night));
    for (const r of releases) r.files.sort((a, b) => a.cell.localeCompare(b.cell));
    return { schema: "pte-farm/dashboard-releases@1", releases };
  }
}

/**
 * The runs that can change a device's quarantine, oldest first (see the file's comment): every
 * infrastructure error, and the first verdict after each (it resets the count).
 */
function deciding(d: DeviceAcc, device: string): DeviceRun[] {
  const verdicts = Float64Array.from(d.verdicts).sort();
  const firstAfter = (ms: number) => {
    let lo = 0;
    let hi = verdicts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((verdicts[mid] as number) <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo < verdicts.length ? (verdicts[lo] as number) : null;
  };
  const out: DeviceRun[] = [];
  const resets = new Set<number>();
  for (const r of d.infra) {
    out.push({ cell: { id: r.cell, device }, started_at: r.at, status: r.status, stages: EXECUTE });
    const next = firstAfter(Date.parse(r.at));
    if (next !== null && !resets.has(next)) {
      resets.add(next);
      out.push({
        cell: { id: "", device },
        started_at: new Date(next).toISOString(),
        status: "pass",
        stages: EXECUTE,
      });
    }
  }
  return out.sort((a, b) => a.started_at.localeCompare(b.started_at));
}
