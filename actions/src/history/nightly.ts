/**
 * Nightly bookkeeping (pure): from the history, tonight's records, confirmation re-runs and the
 * regression issues open now, what each cell × metric needs — a confirming re-run (a candidate),
 * an issue opened or kept up to date (regressed), an issue closed (recovered), or nothing.
 *
 * farm-nightly calls it twice. The history job, after appending tonight's records, asks for
 * candidates (no confirmations, and it does not know the open issues); the confirm job re-runs
 * those cells on their devices; the issues job asks again with the re-runs and the open issues,
 * and hands `actions` to the issue sync. Every rule below is the same in both calls.
 *
 * Three kinds of issue, each keyed by cell × metric:
 * - **performance** (a real metric): a change point in the nightly series (detect.ts) for the
 *   worse, at the current level. New ones need {@link confirm} on a re-run, and only a change
 *   point from the last `freshNights` nights is a candidate: an older unconfirmed one was a
 *   fluke, and one a maintainer closed by hand stays closed. An open one is updated every night
 *   it lasts. It recovers when the nights since the regression began show a change back (the
 *   detector needs `minSegment` nights, 5 by default, to see one) and each of the last
 *   `recoverNights` nights is within the metric's minimum effect of the old level: a few lucky
 *   nights, or a partial recovery (still worse by more than the minimum effect), do not close it.
 *   A short regression is a dip in the whole series, which a test for one change rarely finds;
 *   {@link lastRegression} finds it where the series still ended inside it.
 * - **gate** (metric `"gate"`): tonight's tokens failed the gate. It needs a re-run that fails too
 *   (a flaky board can corrupt a run; tokens of a good `.pte` do not change), and recovers on the
 *   first night the cell passes.
 * - **stage** (metric `"stage"`): a stage failed. A build stage (reference, export, quantize,
 *   lower) is deterministic and has no device to re-run on, so it opens at once; a device stage
 *   (execute) needs a failing re-run. Recovers on the first passing night.
 *
 * infra-error, timeout and cancelled runs decide nothing: they are the farm's problem, not the
 * model's. They never enter a performance series (detect.ts keeps passing records only), never
 * open or close an issue, and a cell whose night was one is left as it was (with a note).
 */
import type { CompareConfig } from "../compare/config.ts";
import { settingsFor } from "../compare/config.ts";
import {
  type ChangePoint,
  cellSeries,
  cleanSamples,
  confirm,
  detectSeries,
  type SeriesPoint,
} from "../compare/detect.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { type ChangePointOptions, DEFAULT_CHANGE_POINT_OPTIONS } from "../stats/changepoint.ts";
import { median } from "../stats/robust.ts";

export const GATE_METRIC = "gate";
export const STAGE_METRIC = "stage";
export const BUILD_STAGES: readonly string[] = ["reference", "export", "quantize", "lower"];

export type IssueKind = "performance" | "gate" | "stage";

/** A regression issue that is open now, as its marker names it. */
export interface OpenRegression {
  cell: string;
  metric: string;
}

export interface NightlyOptions {
  /** A new change point is a candidate only while it is at most this many nights old. */
  freshNights: number;
  /** Nights in a row back at the old level before an open performance issue recovers. */
  recoverNights: number;
  /** Nights in the trend handed to the issue (its chart). */
  trendNights: number;
  changePoint: Partial<ChangePointOptions>;
}

export const DEFAULT_NIGHTLY_OPTIONS: NightlyOptions = {
  freshNights: 10,
  recoverNights: 3,
  trendNights: 30,
  changePoint: {},
};

export interface NightlyInput {
  /** Every record of the history store, tonight's included (role `nightly` ones are used). */
  history: readonly RunRecord[];
  /** Tonight's records: a cell that did not run tonight is left alone. */
  tonight: readonly RunRecord[];
  /** Confirmation re-runs (any role), newest per cell used; absent in the history job. */
  confirmations?: readonly RunRecord[];
  open?: readonly OpenRegression[];
  /** Minimum effects per metric and device (matrix/compare.yml). */
  config: CompareConfig;
  options?: Partial<NightlyOptions>;
}

export interface Candidate {
  cell: string;
  metric: string;
  kind: IssueKind;
  changePoint: ChangePoint | null;
  reason: string;
}

/** One night of a run, as an issue shows it. */
export interface NightSummary {
  started_at: string;
  git_sha: string | null;
  session: string;
  status: RunRecord["status"];
  /** The median of the metric's clean reps; null for gate and stage issues. */
  value: number | null;
}

export interface IssueAction {
  cell: string;
  metric: string;
  kind: IssueKind;
  state: "regressed" | "recovered";
  /** The change point for the worse (performance only). */
  changePoint: ChangePoint | null;
  /** The re-run that confirmed a new issue; null when updating, recovering, or opening a build failure. */
  confirmation: { value: number | null; reason: string; night: NightSummary } | null;
  /** Tonight's run of the cell. */
  latest: NightSummary;
  /** For the chart: the last `trendNights` nights of the metric (performance only). */
  trend: { started_at: string; value: number }[];
  reason: string;
}

export interface NightlyDecision {
  candidates: Candidate[];
  actions: IssueAction[];
  /** Why something was left as it was, for the job log. */
  notes: string[];
}

const INFRA: readonly RunRecord["status"][] = ["infra-error", "timeout", "cancelled"];

function newestByCell(records: readonly RunRecord[]): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>();
  for (const r of records) {
    const seen = out.get(r.cell.id);
    if (seen === undefined || seen.started_at < r.started_at) out.set(r.cell.id, r);
  }
  return out;
}

function summary(r: RunRecord, metric: string | null): NightSummary {
  const samples = metric === null ? [] : cleanSamples(r, metric);
  return {
    started_at: r.started_at,
    git_sha: r.git_sha,
    session: r.session,
    status: r.status,
    value: samples.length === 0 ? null : median(samples),
  };
}

/** Whether `value` is no worse than the level before `cp` by the metric's minimum effect or more. */
function backAtOldLevel(
  cp: ChangePoint,
  value: number,
  better: "higher" | "lower",
  minEffect: number,
): boolean {
  const worseBy = (better === "higher" ? -1 : 1) * Math.log(value / cp.before_median);
  return worseBy < Math.log1p(minEffect);
}

interface Context {
  opts: NightlyOptions;
  open: (cell: string, metric: string) => boolean;
  rerun: (cell: string) => RunRecord | undefined;
  out: NightlyDecision;
}

/** Gate and stage failures: tonight's status decides. */
function failures(ctx: Context, night: RunRecord): void {
  const cell = night.cell.id;
  const latest = summary(night, null);
  const base = { cell, changePoint: null, latest, trend: [] };
  if (night.status === "pass") {
    for (const [metric, kind] of [
      [GATE_METRIC, "gate"],
      [STAGE_METRIC, "stage"],
    ] as const) {
      if (!ctx.open(cell, metric)) continue;
      ctx.out.actions.push({
        ...base,
        metric,
        kind,
        state: "recovered",
        confirmation: null,
        reason: "passed tonight",
      });
    }
    return;
  }
  const kind = night.gate?.verdict === "fail" ? "gate" : "stage";
  const metric = kind === "gate" ? GATE_METRIC : STAGE_METRIC;
  const what =
    kind === "gate"
      ? "the tokens failed the gate"
      : `stage ${night.failure?.stage ?? "(unknown)"} failed (${night.failure?.outcome ?? "fail"})`;
  const regressed = (confirmation: IssueAction["confirmation"], reason: string): void => {
    ctx.out.actions.push({ ...base, metric, kind, state: "regressed", confirmation, reason });
  };
  if (ctx.open(cell, metric)) {
    regressed(null, `still failing: ${what}`);
  } else if (kind === "stage" && BUILD_STAGES.includes(night.failure?.stage ?? "")) {
    regressed(null, `${what}; a build stage is deterministic, so no re-run is needed`);
  } else {
    ctx.out.candidates.push({ cell, metric, kind, changePoint: null, reason: `${what} tonight` });
    const rerun = ctx.rerun(cell);
    if (rerun === undefined) return;
    const reproduced = kind === "gate" ? rerun.gate?.verdict === "fail" : rerun.status === "fail";
    if (reproduced) {
      regressed({ value: null, reason: "the re-run failed too", night: summary(rerun, null) }, what);
    } else {
      ctx.out.notes.push(`${cell} ${metric}: the re-run (${rerun.status}) did not reproduce it; no issue`);
    }
  }
}

/**
 * The newest change for the worse in `series`. A regression that has since recovered is a dip,
 * not a step: a test for one change over the whole series rarely finds a short dip (six slow
 * nights between a long history and five good ones are not significant), though it found the
 * step while the series still ended inside it. So when the whole series shows none, the series
 * is cut back one night at a time (down to two segments' length) until it does, and on while
 * it still does.
 */
function lastRegression(
  series: readonly SeriesPoint[],
  whole: readonly ChangePoint[],
  detect: (points: readonly SeriesPoint[]) => ChangePoint[],
  worse: (cp: ChangePoint) => boolean,
  minSegment: number,
): ChangePoint | undefined {
  const inWhole = whole.findLast(worse);
  if (inWhole !== undefined) return inWhole;
  // Down to the shortest prefix that still shows it: with good nights after the dip in the
  // prefix, the cut lands late; where the series ends inside the dip, it lands where it began.
  let found: ChangePoint | undefined;
  for (let end = series.length - 1; end >= 2 * minSegment; end--) {
    const cp = detect(series.slice(0, end)).findLast(worse);
    if (cp !== undefined) found = cp;
    else if (found !== undefined) break;
  }
  return found;
}

/** One performance metric of a cell that passed tonight. */
function performance(
  ctx: Context,
  night: RunRecord,
  history: readonly RunRecord[],
  metric: string,
  config: CompareConfig,
): void {
  const cell = night.cell.id;
  const better = night.metrics[metric]?.better;
  if (better === undefined) {
    if (ctx.open(cell, metric))
      ctx.out.notes.push(`${cell} ${metric}: no longer measured; its issue is left open`);
    return;
  }
  const series: SeriesPoint[] = cellSeries(history, cell, metric);
  const { min_effect } = settingsFor(config, metric, night.cell.device);
  const detect = (points: readonly SeriesPoint[]) =>
    detectSeries(points, cell, metric, { ...ctx.opts.changePoint, minEffect: min_effect }).change_points;
  const cps = detect(series);
  const worse = (cp: ChangePoint) => (better === "higher" ? cp.ratio < 1 : cp.ratio > 1);
  const last = cps.at(-1);
  const base = {
    cell,
    metric,
    kind: "performance" as const,
    latest: summary(night, metric),
    trend: series.slice(-ctx.opts.trendNights).map((p) => ({ started_at: p.started_at, value: p.value })),
  };
  const pct = (cp: ChangePoint) => `${((cp.ratio - 1) * 100).toFixed(1)}% since ${cp.started_at}`;

  if (ctx.open(cell, metric)) {
    const minSegment = ctx.opts.changePoint.minSegment ?? DEFAULT_CHANGE_POINT_OPTIONS.minSegment;
    const regression = lastRegression(series, cps, detect, worse, minSegment);
    if (regression === undefined) {
      ctx.out.notes.push(
        `${cell} ${metric}: an issue is open but no change for the worse is in the series; left as is`,
      );
      return;
    }
    // The way back: a change for the better in the nights since the regression began (from its
    // cut, or a few nights on: a cut one night early puts an old-level night before the dip).
    let back: ChangePoint | undefined;
    if (regression !== last)
      for (let from = regression.index; back === undefined && from <= series.length - 2 * minSegment; from++)
        back = detect(series.slice(from)).find((cp) => !worse(cp));
    const recent = series.slice(-ctx.opts.recoverNights);
    const recovered =
      back !== undefined &&
      recent.length === ctx.opts.recoverNights &&
      recent.every((p) => backAtOldLevel(regression, p.value, better, min_effect));
    ctx.out.actions.push({
      ...base,
      state: recovered ? "recovered" : "regressed",
      changePoint: regression,
      confirmation: null,
      reason: recovered
        ? `the last ${ctx.opts.recoverNights} nights are back within ${(min_effect * 100).toFixed(0)}% of ${regression.before_median.toPrecision(4)}`
        : `still ${pct(regression)}`,
    });
    return;
  }
  if (last === undefined || !worse(last)) return;
  if (last.index < series.length - ctx.opts.freshNights) return;
  ctx.out.candidates.push({ cell, metric, kind: "performance", changePoint: last, reason: pct(last) });
  const rerun = ctx.rerun(cell);
  if (rerun === undefined) return;
  if (rerun.status !== "pass") {
    ctx.out.notes.push(`${cell} ${metric}: the confirmation re-run ended ${rerun.status}; nothing decided`);
    return;
  }
  const c = confirm(last, rerun, metric);
  if (!c.confirmed) {
    ctx.out.notes.push(`${cell} ${metric}: not confirmed: ${c.reason}`);
    return;
  }
  ctx.out.actions.push({
    ...base,
    state: "regressed",
    changePoint: last,
    confirmation: { value: c.value, reason: c.reason, night: summary(rerun, metric) },
    reason: pct(last),
  });
}

export function nightly(input: NightlyInput): NightlyDecision {
  const opts = { ...DEFAULT_NIGHTLY_OPTIONS, ...input.options };
  const openKeys = new Set((input.open ?? []).map((o) => `${o.cell}\0${o.metric}`));
  const reruns = newestByCell(input.confirmations ?? []);
  const out: NightlyDecision = { candidates: [], actions: [], notes: [] };
  const ctx: Context = {
    opts,
    open: (cell, metric) => openKeys.has(`${cell}\0${metric}`),
    rerun: (cell) => reruns.get(cell),
    out,
  };
  // Tonight's records belong to the series even if the caller read the history before appending.
  const seen = new Set(input.history.map((r) => `${r.cell.id}\0${r.session}\0${r.started_at}`));
  const history = [
    ...input.history,
    ...input.tonight.filter((r) => !seen.has(`${r.cell.id}\0${r.session}\0${r.started_at}`)),
  ].filter((r) => r.role === "nightly");
  const nights = [...newestByCell(input.tonight).values()].sort((a, b) => a.cell.id.localeCompare(b.cell.id));
  for (const night of nights) {
    const cell = night.cell.id;
    if (INFRA.includes(night.status)) {
      out.notes.push(`${cell}: tonight's run ended ${night.status}; its issues are left as they were`);
      continue;
    }
    failures(ctx, night);
    if (night.status !== "pass") continue;
    const metrics = new Set(Object.keys(night.metrics));
    for (const o of input.open ?? []) {
      if (o.cell === cell && o.metric !== GATE_METRIC && o.metric !== STAGE_METRIC) metrics.add(o.metric);
    }
    for (const metric of [...metrics].sort()) performance(ctx, night, history, metric, input.config);
  }
  return out;
}
