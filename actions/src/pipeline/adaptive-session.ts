/**
 * A pull request's interleaved session: base and head `.pte` measured ABBA on one device, in
 * blocks. After each block the paired comparison looks at every rep so far (compare/looks.ts, the
 * loop the benchmark simulates); while it is inconclusive and asks for more, another block of
 * that many reps per side runs, up to the compare cap and the device's time budget (matrix
 * `session_minutes`). Each block is one run of the driver (its own warm-up), in `execute/block-N`;
 * the session's result is their concatenation in `execute/result.json`, with `adaptive` saying how
 * many blocks, reps and seconds it took and why it stopped.
 *
 * A failed block fails the session with that block's step (its log and triage): reps of a session
 * that broke halfway are not a measurement.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { CompareConfig } from "../compare/config.ts";
import { settingsFor } from "../compare/config.ts";
import { LEAD_METRIC, repsToAdd, START_REPS } from "../compare/looks.ts";
import { compareMetric, type MetricComparison } from "../compare/verdicts.ts";
import type { DriverRequest, DriverRun, ExecuteDriver } from "../drivers/driver.ts";
import { ARTEFACT_METRICS } from "../records/emulated.ts";
import type { AdaptiveSession, ExecuteData, Metric, RepTelemetry } from "../schemas/stage.ts";
import { executeCell } from "./execute.ts";

export interface SessionOptions {
  config: CompareConfig;
  /** The device's budget for the whole session, in seconds. */
  budgetS: number;
  /** Reps per side of the first block (default compare/looks.ts's START_REPS). */
  start?: number;
  /** Milliseconds since some origin; tests pass a clock of their own. */
  now?: () => number;
}

type Role = Omit<ExecuteData, "base" | "order" | "adaptive">;

/** A metric measured once per rep is concatenated; one measured once per session (pte_bytes) is kept. */
function appendMetric(a: Metric, b: Metric, repsA: number, repsB: number): Metric {
  if (a.samples.length !== repsA || b.samples.length !== repsB) return a;
  return {
    ...a,
    samples: [...a.samples, ...b.samples],
    ...(a.sample_flags === undefined && b.sample_flags === undefined
      ? {}
      : {
          sample_flags: [
            ...(a.sample_flags ?? a.samples.map(() => [])),
            ...(b.sample_flags ?? b.samples.map(() => [])),
          ],
        }),
  };
}

/** Telemetry of a later block, its rep numbers continuing the session's (warm-ups negative). */
function shiftTelemetry(t: readonly RepTelemetry[], reps: number, warmup: number): RepTelemetry[] {
  return t.map((s) => ({ ...s, rep: s.rep >= 0 ? s.rep + reps : s.rep - warmup }));
}

function appendRole(a: Role, b: Role, what: string): Role {
  const same = JSON.stringify(a.prompts.map((p) => p.ids)) === JSON.stringify(b.prompts.map((p) => p.ids));
  if (!same) {
    throw new Error(
      `the ${what} .pte generated different tokens in a later block of the session than in the first: not deterministic`,
    );
  }
  const metrics: Record<string, Metric> = {};
  for (const [name, m] of Object.entries(a.metrics)) {
    const next = b.metrics[name];
    metrics[name] = next === undefined ? m : appendMetric(m, next, a.reps, b.reps);
  }
  return {
    ...a,
    reps: a.reps + b.reps,
    warmup: a.warmup + b.warmup,
    metrics,
    ...(a.telemetry === undefined
      ? {}
      : { telemetry: [...a.telemetry, ...shiftTelemetry(b.telemetry ?? [], a.reps, a.warmup)] }),
    // The runner's own Stats are sums over the measured reps: every block's count.
    ...(a.runner_stats === undefined || b.runner_stats === undefined
      ? {}
      : {
          runner_stats: {
            generated_tokens: a.runner_stats.generated_tokens + b.runner_stats.generated_tokens,
            decode_ms: a.runner_stats.decode_ms + b.runner_stats.decode_ms,
          },
        }),
  };
}

/** Block `b` appended to the session so far. */
export function appendBlock(a: ExecuteData, b: ExecuteData): ExecuteData {
  if (a.base === undefined || b.base === undefined) throw new Error("bug: a block without its base");
  const { base: baseA, order: orderA, adaptive: _a, ...headA } = a;
  const { base: baseB, order: orderB, adaptive: _b, ...headB } = b;
  return {
    ...appendRole(headA, headB, "head"),
    base: appendRole(baseA, baseB, "base"),
    order: [...(orderA ?? []), ...(orderB ?? [])],
  };
}

/**
 * The paired comparison so far, as the compare action will make it, of the metric the session is
 * for (compare/looks.ts LEAD_METRIC), or of every timed metric on a device without it; null when no
 * timing may feed a verdict (an emulated device: QEMU's timings are not the board's).
 */
export function look(
  data: ExecuteData,
  config: CompareConfig,
  device: string,
  emulated: boolean,
): MetricComparison[] | null {
  const base = data.base;
  if (base === undefined) throw new Error("bug: a session without its base");
  if (emulated) return null;
  const out: MetricComparison[] = [];
  const lead = data.metrics[LEAD_METRIC] !== undefined && base.metrics[LEAD_METRIC] !== undefined;
  for (const [name, h] of Object.entries(data.metrics)) {
    if (lead && name !== LEAD_METRIC) continue;
    const b = base.metrics[name];
    if (b === undefined || ARTEFACT_METRICS.has(name) || h.samples.length < 2) continue;
    out.push(compareMetric(b, h, true, settingsFor(config, name, device)));
  }
  return out.length === 0 ? null : out;
}

/**
 * After a look at `n` reps per side, `elapsedS` into the session: the next block's reps per side,
 * or why the session stops. The budget is projected from the session so far (loads and warm-ups
 * included, so cautious): a block that would not fit is cut to what fits, or not run.
 */
export function nextBlock(
  looks: readonly MetricComparison[],
  n: number,
  elapsedS: number,
  budgetS: number,
  cap: number,
): number | AdaptiveSession["stopped"] {
  const want = repsToAdd(looks);
  if (want === 0) return looks.some((m) => m.verdict === "inconclusive") ? "cap" : "decided";
  if (n >= cap) return "cap";
  const fits = Math.floor((budgetS - elapsedS) / (elapsedS / n));
  const add = Math.min(want, fits, cap - n);
  return add > 0 ? add : "budget";
}

/** Runs the session (see the file comment); the step it returns is the whole session's. */
export async function interleavedSession(
  driver: ExecuteDriver,
  req: DriverRequest & { base: NonNullable<DriverRequest["base"]> },
  opts: SessionOptions,
): Promise<DriverRun> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const cap = opts.config.max_reps;
  const blocks: number[] = [];
  const telemetry: DriverRun["telemetry"] = [];
  let first: DriverRun | null = null;
  let data: ExecuteData | null = null;
  let wallMs = 0;
  let add = Math.min(opts.start ?? START_REPS, cap);
  let stopped: AdaptiveSession["stopped"];
  for (let i = 1; ; i++) {
    const run = await executeCell(driver, { ...req, reps: add, dir: path.join(req.dir, `block-${i}`) });
    telemetry.push(...run.telemetry);
    wallMs += run.step.wallMs;
    if (run.step.kind !== "ok") return { step: run.step, telemetry };
    const block = run.step.data as ExecuteData;
    data = data === null ? block : appendBlock(data, block);
    first ??= run;
    blocks.push(add);
    const n = data.reps;
    const looks = look(data, opts.config, req.cell.device.name, req.cell.device.emulation !== null);
    if (looks === null) {
      stopped = "timings-do-not-count";
      break;
    }
    const next = nextBlock(looks, n, (now() - t0) / 1000, opts.budgetS, cap);
    if (typeof next === "string") {
      stopped = next;
      break;
    }
    add = next;
    const open = looks.filter((m) => m.verdict === "inconclusive").length;
    req.logger.info(
      `look ${i}: ${open} metric(s) inconclusive after ${n} reps per side (${((now() - t0) / 1000).toFixed(0)} s): ${add} more per side`,
    );
  }
  if (first === null || data === null) throw new Error("bug: a session without a block");
  const seconds = (now() - t0) / 1000;
  const adaptive: AdaptiveSession = {
    blocks,
    reps_per_side: data.reps,
    seconds: Math.round(seconds * 10) / 10,
    budget_s: opts.budgetS,
    stopped,
  };
  req.logger.info(
    `interleaved session: ${data.reps} reps per side in ${blocks.length} block(s), ${adaptive.seconds} s (${stopped})`,
  );
  const merged: ExecuteData = { ...data, adaptive };
  const firstResult = first.step.result;
  if (firstResult === null) throw new Error("bug: an ok step without its result");
  const result = {
    ...firstResult,
    finished_at: new Date().toISOString(),
    duration_s: adaptive.seconds,
    data: merged,
  };
  await writeFile(path.join(req.dir, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
  return { step: { ...first.step, dir: req.dir, wallMs, result, data: merged }, telemetry };
}
