/**
 * Head vs base run records → per-metric verdicts and an overall verdict (DESIGN.md "Compare
 * output"). Pure: compare/files.ts reads and validates the files, this decides.
 *
 * Paired when base and head share a `session` (measured interleaved, ABBA, on one device): rep i
 * of the head is paired with rep i of the base. Otherwise unpaired, with the device's
 * between-session spread added to the CI (stats/unpaired.ts). A rep flagged in `sample_flags`
 * (e.g. "throttled") is dropped, with its pair when paired; never averaged in. When paired, a rep
 * the statistics see was slowed by something else (stats/outliers.ts) is dropped with its pair
 * too, unless one side has significantly more of them (then the slowness is the change's).
 */

import { ConfigurationError } from "../core/errors.ts";
import type { Infer } from "../core/validate.ts";
import { EMULATED_NOTE, timingCounts } from "../records/emulated.ts";
import type { comparison, Verdict } from "../schemas/comparison.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import type { AdaptiveSession, FragmentationReport, Metric } from "../schemas/stage.ts";
import { type Decision, decide } from "../stats/decide.ts";
import { slowedAsymmetry, slowedReps } from "../stats/outliers.ts";
import { type LogEffect, pairedLogEffect, TRIM, TRIM_AFTER_SLOWED } from "../stats/paired.ts";
import { median } from "../stats/robust.ts";
import { COLD_START_MIN_REPS, coldStartLogEffect, unpairedLogEffect } from "../stats/unpaired.ts";
import type { CompareConfig } from "./config.ts";
import { START_REPS, settingsFor } from "./config.ts";
import { fragmentation } from "./delegation.ts";

export const COMPARE_SCHEMA = "pte-farm/compare@1";

export interface MetricComparison {
  verdict: Verdict;
  /** head / base; null only when a side has no usable rep. */
  ratio: number | null;
  ci: [number, number] | null;
  p_value: number | null;
  more_samples: number;
  unit: string;
  better: "higher" | "lower";
  /** paired (one session), unpaired (two sessions), or exact (one sample a side: deterministic). */
  method: "paired" | "unpaired" | "exact" | "none";
  reps: { base: number; head: number };
  excluded: { base: number; head: number };
  /**
   * OPTIONAL (issue 16): paired reps seen slowed by something else (stats/outliers.ts), per side,
   * and whether their pairs were dropped (false: one side had significantly more, so all were kept).
   */
  slowed?: { base: number; head: number; dropped: boolean };
  min_effect: number;
  note: string | null;
}

export interface Comparison {
  schema: typeof COMPARE_SCHEMA;
  cell: string;
  base: { session: string; git_sha: string | null; toolchain: string };
  head: { session: string; git_sha: string | null; toolchain: string };
  paired: boolean;
  verdict: Verdict;
  metrics: Record<string, MetricComparison>;
  /** Metrics only one side has, and other things a reader should know. */
  notes: string[];
  /**
   * OPTIONAL (issue 6): head's delegation against base's, when both records carry one. An alarm
   * (more delegated subgraphs) is also a note; it does not change the metric verdict.
   */
  fragmentation?: FragmentationReport;
  /** OPTIONAL (issue 16): base and head .pte are byte-identical, so nothing was measured (compare/identical.ts). */
  identical?: { pte_sha256: string };
  /** OPTIONAL (issue 16): the head's interleaved session: blocks, reps per side, seconds, why it stopped. */
  adaptive?: AdaptiveSession;
}

/** Flags that exclude a rep. Any flag does, today; the list names the ones execute writes. */
export function isExcluded(flags: readonly string[] | undefined): boolean {
  return flags !== undefined && flags.length > 0;
}

function clean(m: Metric): number[] {
  return m.samples.filter((_, i) => !isExcluded(m.sample_flags?.[i]));
}

function cleanPairs(b: Metric, h: Metric): { base: number[]; head: number[] } {
  const base: number[] = [];
  const head: number[] = [];
  const n = Math.min(b.samples.length, h.samples.length);
  for (let i = 0; i < n; i++) {
    if (isExcluded(b.sample_flags?.[i]) || isExcluded(h.sample_flags?.[i])) continue;
    base.push(b.samples[i] as number);
    head.push(h.samples[i] as number);
  }
  return { base, head };
}

/**
 * Two sessions' reps matched by age (rep t of each, in measurement order), for the cold-start
 * estimate (stats/unpaired.ts): dropped where either is flagged or was slowed by something else
 * (stats/outliers.ts; a session's own slowed reps, so no asymmetry test: the sides are not paired).
 */
function sameAge(b: Metric, h: Metric): { ages: number[]; base: number[]; head: number[] } {
  const n = Math.min(b.samples.length, h.samples.length);
  const sb = slowedReps(b.samples.slice(0, n), h.better);
  const sh = slowedReps(h.samples.slice(0, n), h.better);
  const out = { ages: [] as number[], base: [] as number[], head: [] as number[] };
  for (let i = 0; i < n; i++) {
    if (sb[i] || sh[i] || isExcluded(b.sample_flags?.[i]) || isExcluded(h.sample_flags?.[i])) continue;
    out.ages.push(i);
    out.base.push(b.samples[i] as number);
    out.head.push(h.samples[i] as number);
  }
  return out;
}

/** One metric of two records; `paired` when they share a session. */
export function compareMetric(
  b: Metric,
  h: Metric,
  paired: boolean,
  settings: ReturnType<typeof settingsFor>,
): MetricComparison {
  const cb = clean(b);
  const ch = clean(h);
  const common = {
    unit: h.unit,
    better: h.better,
    excluded: { base: b.samples.length - cb.length, head: h.samples.length - ch.length },
    min_effect: settings.min_effect,
  };
  if (cb.length === 0 || ch.length === 0) {
    return {
      verdict: "inconclusive",
      ratio: null,
      ci: null,
      p_value: null,
      more_samples: Math.min(8, settings.max_reps),
      ...common,
      method: "none",
      reps: { base: cb.length, head: ch.length },
      note: "no usable rep on one side (every rep was excluded)",
    };
  }
  let effect: LogEffect;
  let method: MetricComparison["method"];
  let betweenSd = 0;
  let reps = { base: cb.length, head: ch.length };
  let slowed: MetricComparison["slowed"];
  const pairs = paired ? cleanPairs(b, h) : null;
  if (cb.length < 2 || ch.length < 2) {
    // One sample a side (pte_bytes): a deterministic quantity, compared exactly.
    method = "exact";
    effect = { estimate: Math.log(median(ch) / median(cb)), se: 0, df: 1, n: Math.min(cb.length, ch.length) };
  } else if (pairs !== null && pairs.base.length >= 2) {
    method = "paired";
    const sb = slowedReps(pairs.base, h.better);
    const sh = slowedReps(pairs.head, h.better);
    const count = (f: boolean[]) => f.filter(Boolean).length;
    const keep = pairs.base.map((_, i) => !sb[i] && !sh[i]);
    const seen = count(sb) + count(sh) > 0;
    const drop = seen && !slowedAsymmetry(count(sb), count(sh)) && keep.filter(Boolean).length >= 2;
    slowed = { base: count(sb), head: count(sh), dropped: drop };
    const used = drop
      ? { base: pairs.base.filter((_, i) => keep[i]), head: pairs.head.filter((_, i) => keep[i]) }
      : pairs;
    // n stays the reps per side measured: where the sequence of looks is (the boundary, the cap).
    effect = {
      ...pairedLogEffect(used.base, used.head, drop ? TRIM_AFTER_SLOWED : TRIM),
      n: pairs.base.length,
    };
    reps = { base: used.base.length, head: used.head.length };
  } else {
    method = "unpaired";
    betweenSd = paired ? 0 : settings.between_session;
    const aged = paired ? null : sameAge(b, h);
    effect =
      aged !== null && aged.ages.length >= COLD_START_MIN_REPS
        ? coldStartLogEffect(aged.ages, aged.base, aged.head, Math.min(cb.length, ch.length))
        : unpairedLogEffect(cb, ch);
  }
  const d: Decision = decide(effect, {
    better: h.better,
    minEffect: settings.min_effect,
    confidence: settings.confidence,
    betweenSd,
    maxReps: settings.max_reps,
    // Every compare of repeated reps may be one look of several (compare/looks.ts): the interval
    // is one of a sequence that holds its confidence over any looks from START_REPS to the cap.
    // Records with fewer reps (a nightly's 5) were first looked at where they are: the sequence
    // starts there, a stricter boundary, never no verdict at all.
    ...(method === "exact" ? {} : { sequential: { firstLook: Math.min(START_REPS, Math.max(2, effect.n)) } }),
  });
  return {
    verdict: d.verdict,
    ratio: d.ratio,
    ci: d.ci,
    p_value: d.p_value,
    more_samples: d.more_samples,
    ...common,
    method,
    reps,
    ...(slowed === undefined || slowed.base + slowed.head === 0 ? {} : { slowed }),
    note: d.note,
  };
}

export const sideOf = (r: RunRecord) => ({
  session: r.session,
  git_sha: r.git_sha,
  toolchain: r.cell.toolchain,
});

/** regression beats inconclusive beats improvement beats unchanged: one regression fails the compare. */
export function overallVerdict(verdicts: readonly Verdict[]): Verdict {
  for (const v of ["regression", "inconclusive", "improvement"] as const) if (verdicts.includes(v)) return v;
  return "unchanged";
}

/**
 * Refuses records that must not be compared: different devices always (a Pi and an M1 differ by
 * design), different toolchains unless `acrossToolchains` (an upgrade is what such a compare is for).
 */
export function checkComparable(
  base: { name: string; record: RunRecord },
  head: { name: string; record: RunRecord },
  acrossToolchains: boolean,
): void {
  const b = base.record;
  const h = head.record;
  if (b.cell.device !== h.cell.device || b.device.board !== h.device.board) {
    throw new ConfigurationError(
      `${base.name} and ${head.name} come from different devices: base ${b.cell.device} (${b.device.board}), ` +
        `head ${h.cell.device} (${h.device.board}); compare records of one device`,
    );
  }
  if (acrossToolchains) return;
  const versions = (r: RunRecord) => {
    const v = r.toolchain.device ?? r.toolchain.build ?? {};
    return ["torch", "executorch", "torchao", "transformers"].map((k) => `${k} ${v[k] ?? "?"}`).join(", ");
  };
  if (b.cell.toolchain !== h.cell.toolchain || versions(b) !== versions(h)) {
    throw new ConfigurationError(
      `${base.name} and ${head.name} come from different toolchains: base ${b.cell.toolchain} (${versions(b)}), ` +
        `head ${h.cell.toolchain} (${versions(h)}); pass --across-toolchains to compare them anyway`,
    );
  }
}

export function compareRecords(base: RunRecord, head: RunRecord, config: CompareConfig): Comparison {
  const paired = base.session === head.session;
  const metrics: Record<string, MetricComparison> = {};
  const notes: string[] = [];
  for (const [name, h] of Object.entries(head.metrics)) {
    const b = base.metrics[name];
    if (b === undefined) {
      notes.push(`${name}: only the head has it`);
      continue;
    }
    if (!timingCounts(base, name) || !timingCounts(head, name)) {
      notes.push(`${name}: ${EMULATED_NOTE}`);
      continue;
    }
    metrics[name] = compareMetric(b, h, paired, settingsFor(config, name, head.cell.device));
  }
  for (const name of Object.keys(base.metrics)) {
    if (!(name in head.metrics)) notes.push(`${name}: only the base has it`);
  }
  if (!paired) {
    notes.push(
      "base and head are from different sessions: the between-session spread is added to every CI " +
        "(interleave them in one session for the tightest answer)",
    );
  }
  const side = sideOf;
  const frag =
    base.delegation !== undefined && head.delegation !== undefined
      ? fragmentation(base.delegation, head.delegation)
      : undefined;
  if (frag?.alarm) notes.push(`fragmentation alarm: ${frag.message}`);
  return {
    schema: COMPARE_SCHEMA,
    cell: head.cell.id,
    base: side(base),
    head: side(head),
    paired,
    verdict: overallVerdict(Object.values(metrics).map((m) => m.verdict)),
    metrics,
    notes,
    ...(frag === undefined ? {} : { fragmentation: frag }),
    ...(paired && head.interleave?.adaptive !== undefined ? { adaptive: head.interleave.adaptive } : {}),
  };
}

// Compiles only while schemas/comparison.ts's validated shape and the Comparison interface above
// are assignable both ways.
function _sameShape(
  parsed: Infer<typeof comparison>,
  written: Comparison,
): [Comparison, Infer<typeof comparison>] {
  return [parsed, written];
}
void _sameShape;
