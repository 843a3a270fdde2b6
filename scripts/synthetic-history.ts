/**
 * A generated history store of nightly run records, for the dashboard's tests, its benchmark and
 * the README screenshots: any number of cells × nights, each cell following a scenario (a clean
 * series, a step regression at a known night, a gate failure, a stage failure with a known issue,
 * an infrastructure error, hot reps, a stale cell, an emulated device, a hostile model name…).
 *
 * Written straight into the folder layout a `dir:` store reads (history/layout.ts): one month file
 * per cell and month (`<cell>/<YYYY-MM>.jsonl`, what `history compact` folds a data branch into),
 * one cell at a time, so a million records are streamed to disk without being held at once.
 * Records are built as the schema has them (and the first of each cell is checked against it).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BisectRecord } from "../actions/src/bisect/record.ts";
import { monthLine } from "../actions/src/history/layout.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { cellPrefix } from "../actions/src/history/store.ts";
import type { HealthReport } from "../actions/src/schemas/health-report.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";

export const SCENARIOS = [
  "pass",
  "regression", // decode drops by `step` at night `at` and stays there
  "gate-fail", // the last `tail` nights fail the gate at token 17
  "stage-fail", // the last `tail` nights fail in lower, with a known issue
  "infra", // the last night is an infrastructure error
  "hot", // the last night's reps are all flagged (throttled): no clean sample
  "stale", // stopped running `tail` nights before the end
  "release", // a pass series, plus release records every 30 nights
  "canary", // fails at `stage` with `knownIssue` every night, but the last `tail` (default 0), which pass
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface SyntheticCell {
  model: string;
  recipe: string;
  backend: string;
  device: string;
  toolchain: string;
  scenario: Scenario;
  /** regression: the first night of the new level; default two thirds of the way. */
  at?: number;
  /** regression: new level / old level (decode); default 0.9. */
  step?: number;
  /** gate-fail, stage-fail, stale: how many nights at the end; default 1. */
  tail?: number;
  /** Marks the records as an emulated device's (QEMU). */
  emulated?: boolean;
  /** Error text of a failing night (hostile text goes here). */
  message?: string;
  /** canary: the stage it fails at and the known issue it reproduces. */
  stage?: string;
  knownIssue?: string;
}

export interface SyntheticHistory {
  cells: readonly SyntheticCell[];
  nights: number;
  /** The first night, `YYYY-MM-DD`; nightlies start at 02:23 UTC. */
  start: string;
  /** The night (index) the toolchain's executorch moves from 1.4.0 to 1.5.0; none when absent. */
  toolchainChangeAt?: number;
  /** Health reports to store (e.g. one `bad` to quarantine a device). */
  health?: readonly HealthReport[];
  /** Bisect records to store (farm-upstream's). */
  bisects?: readonly BisectRecord[];
  seed?: number;
}

const DAY_MS = 86_400_000;
const METRICS = {
  decode_tokens_per_sec: { unit: "tok/s", better: "higher", level: 24, noise: 0.02 },
  prefill_tokens_per_sec: { unit: "tok/s", better: "higher", level: 180, noise: 0.03 },
  first_token_ms: { unit: "ms", better: "lower", level: 95, noise: 0.04 },
  peak_rss_mb: { unit: "MB", better: "lower", level: 410, noise: 0.002 },
} as const;
const REPS = 6;

export function cellIdOf(
  c: Pick<SyntheticCell, "model" | "recipe" | "backend" | "device" | "toolchain">,
): string {
  return `${c.model}/${c.recipe}/${c.backend}/${c.device}@${c.toolchain}`;
}

/** The night's `started_at`: 02:23 UTC plus a few seconds per cell, so a night's records differ. */
export function nightTime(start: string, night: number, cellIndex = 0): string {
  return new Date(Date.parse(`${start}T02:23:00Z`) + night * DAY_MS + cellIndex * 7_000).toISOString();
}

/** A 40-hex commit per night (the farm's main moved every night). */
export function nightSha(night: number): string {
  return (night * 2654435761).toString(16).padStart(8, "0").slice(-8).repeat(5);
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/**
 * The generated records' toolchain: made-up versions (not the farm's pins, which the tests never
 * hard-code), and the executorch release the history moves to at `toolchainChangeAt`.
 */
export const SYNTHETIC_EXECUTORCH = { before: "1.4.0", after: "1.5.0" } as const;

function versions(h: SyntheticHistory, night: number): Record<string, string> {
  const moved = h.toolchainChangeAt !== undefined && night >= h.toolchainChangeAt;
  return {
    python: "3.12.3",
    torch: "2.13.0",
    executorch: moved ? SYNTHETIC_EXECUTORCH.after : SYNTHETIC_EXECUTORCH.before,
    torchao: "0.17.0",
    transformers: "5.2.0",
  };
}

/** One night of one cell, or null when the cell did not run that night. */
export function syntheticRecord(
  h: SyntheticHistory,
  c: SyntheticCell,
  cellIndex: number,
  night: number,
  role: RunRecord["role"] = "nightly",
): RunRecord | null {
  const tail = c.tail ?? 1;
  const last = h.nights - 1;
  if (c.scenario === "stale" && night > last - tail) return null;
  const rng = seededRng(
    (h.seed ?? 1) * 1_000_003 + cellIndex * 100_003 + night * 7 + (role === "release" ? 1 : 0),
  );
  const started = nightTime(h.start, night, cellIndex);
  const canaryFails = c.scenario === "canary" && night <= last - (c.tail ?? 0);
  const failing =
    (c.scenario === "gate-fail" || c.scenario === "stage-fail") && night > last - tail
      ? c.scenario
      : canaryFails
        ? "stage-fail"
        : null;
  const failStage = canaryFails ? (c.stage ?? "lower") : "lower";
  const known = canaryFails ? (c.knownIssue ?? "unknown-issue") : "xnnpack-int4-fused-aarch64";
  const infra = c.scenario === "infra" && night === last;
  const hot = c.scenario === "hot" && night === last;
  const at = c.at ?? Math.floor((h.nights * 2) / 3);
  const stepped = c.scenario === "regression" && night >= at ? (c.step ?? 0.9) : 1;
  const metrics: RunRecord["metrics"] = {};
  if (failing !== "stage-fail" && !infra) {
    for (const [name, m] of Object.entries(METRICS)) {
      const level = m.level * (name === "decode_tokens_per_sec" ? stepped : 1) * (1 + cellIndex * 0.01);
      const samples = Array.from({ length: REPS }, () =>
        Number((level * (1 + m.noise * rng.normal())).toFixed(3)),
      );
      metrics[name] = {
        unit: m.unit,
        better: m.better,
        samples,
        ...(hot ? { sample_flags: samples.map(() => ["throttled"]) } : {}),
      };
    }
  }
  const status: RunRecord["status"] = infra ? "infra-error" : failing !== null ? "fail" : "pass";
  const v = versions(h, night);
  const message =
    c.message ??
    (canaryFails
      ? `${known} reproduced`
      : failing === "stage-fail"
        ? "XNNPACK rejected the fused INT4 subgraph"
        : "");
  const reproduce = `node actions/src/cli/pte-farm.ts run --cells '${cellIdOf(c)}'`;
  const thermal = 48 + 6 * rng.next() + (hot ? 30 : 0);
  return {
    schema: "pte-farm/run@1",
    cell: {
      id: cellIdOf(c),
      model: c.model,
      recipe: c.recipe,
      backend: c.backend,
      device: c.device,
      toolchain: c.toolchain,
    },
    session: `${started.slice(0, 10)}-${hex(cellIndex)}`,
    role,
    git_sha: nightSha(night),
    started_at: started,
    finished_at: new Date(Date.parse(started) + 240_000).toISOString(),
    status,
    toolchain: { name: c.toolchain, build: v, device: v },
    device: {
      runner: `${c.device}-1`,
      board: c.device,
      hostname: `${c.device}-1`,
      os: "linux",
      kernel: "6.6.51",
      arch: c.device.includes("x86") ? "x86_64" : "aarch64",
      cpu: "Cortex-A76",
      cpus: 4,
      memory_mb: 8192,
      ...(c.emulated ? { emulation: { qemu: "8.2.2", cpu_model: "cortex-a76", host_arch: "x86_64" } } : {}),
    },
    telemetry: {
      samples: [
        {
          label: "before",
          at: started,
          thermal_c: { cpu: Number(thermal.toFixed(1)) },
          cpu_mhz: { cpu0: 2400 },
        },
      ],
    },
    metrics,
    tokens: [],
    gate:
      failing === "stage-fail" || infra
        ? null
        : {
            verdict: failing === "gate-fail" ? "fail" : "pass",
            policy: { reference: "fp32", fp32: "gate" },
            first_divergence:
              failing === "gate-fail"
                ? {
                    reference: "fp32",
                    prompt_index: 0,
                    position: 17,
                    expected_id: 1012,
                    expected_text: " Paris",
                    actual_id: 88,
                    actual_text: message === "" ? " the" : message,
                  }
                : null,
            fp32_agreement: { matching_prefix: failing === "gate-fail" ? 17 : 32, total: 32 },
          },
    ...(status === "pass" ? { pte: { sha256: hex(cellIndex).repeat(8), bytes: 1_782_144 + cellIndex } } : {}),
    stages:
      failing === "stage-fail"
        ? [
            {
              stage: failStage,
              outcome: "stage-failure",
              cache: "off",
              wall_s: 14.2,
              dir: failStage,
              log: null,
            },
          ]
        : [
            {
              stage: "execute",
              outcome: infra ? "infra-failure" : "ok",
              cache: "off",
              wall_s: 31.5,
              dir: "execute",
              log: null,
            },
          ],
    failure:
      status === "pass"
        ? null
        : {
            stage: infra ? "execute" : failing === "stage-fail" ? failStage : "gate",
            outcome: infra ? "infra-failure" : failing === "stage-fail" ? "stage-failure" : "gate-failed",
            message: infra
              ? "device went away mid-run (ssh: connection reset)"
              : message || "tokens diverged",
            known_issue: failing === "stage-fail" ? known : null,
            triage:
              failing === "stage-fail"
                ? `known issue ${known}: ${canaryFails ? "the canary's expected failure" : "XNNPACK rejects fused INT4 subgraphs on aarch64"}`
                : "no known issue matched",
            reproduce,
          },
  };
}

/**
 * Writes the history under `root` (a `dir:` store) and returns how many records were written.
 * Each cell is built and written month by month, so memory holds one month of one cell.
 */
export async function writeSyntheticHistory(
  root: string,
  h: SyntheticHistory,
  /** Only these cells (by index): several processes can write one history's shares at once. */
  only: (index: number) => boolean = () => true,
): Promise<number> {
  let written = 0;
  for (const [i, c] of h.cells.entries()) {
    if (!only(i)) continue;
    const dir = path.join(root, ...cellPrefix(cellIdOf(c)).split("/"));
    await mkdir(dir, { recursive: true });
    let month = "";
    let lines: string[] = [];
    const flush = async () => {
      if (lines.length > 0) await writeFile(path.join(dir, `${month}.jsonl`), `${lines.join("\n")}\n`);
      lines = [];
    };
    for (let night = 0; night < h.nights; night++) {
      const records = [syntheticRecord(h, c, i, night)];
      if (c.scenario === "release" && night % 30 === 29)
        records.push(syntheticRecord(h, c, i, night, "release"));
      for (const r of records) {
        if (r === null) continue;
        const m = r.started_at.slice(0, 7);
        if (m !== month) {
          await flush();
          month = m;
        }
        // The first record of a cell goes through the schema (monthLine validates); the rest share its shape.
        lines.push(night === 0 ? monthLine(r) : JSON.stringify(r));
        written++;
      }
    }
    await flush();
  }
  if (only(0)) {
    const store = new LocalFolderStore(root);
    await store.appendHealth(h.health ?? []);
    await store.appendBisects(h.bisects ?? []);
  }
  return written;
}

/** A bad health report that quarantines `device` from `at` on. */
export function badHealth(
  device: string,
  at: string,
  detail = "throttled since boot (under-voltage)",
): HealthReport {
  return {
    schema: "pte-farm/health@1",
    device,
    toolchain: "stable",
    state: "bad",
    checked_at: at,
    maintenance: null,
    checks: [{ name: "throttle", status: "fail", detail }],
  };
}
