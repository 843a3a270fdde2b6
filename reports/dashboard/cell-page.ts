/**
 * One cell's page data from its records (pure): each charted metric's nightly median with its
 * confidence band, the change points (compare/detect.ts, the detector the nightly issues use,
 * with the metric's minimum effect from matrix/compare.yml), toolchain changes, the gate's
 * history, known issues, the reproduce line and the newest records; and the cell's overview entry.
 */
import { type CompareConfig, settingsFor } from "../../actions/src/compare/config.ts";
import { type ChangePoint, cellSeries, confirm, type SeriesPoint } from "../../actions/src/compare/detect.ts";
import { describeDivergence } from "../../actions/src/gate/policy.ts";
import type { StoredRecord } from "../../actions/src/history/store.ts";
import { cleanSamples } from "../../actions/src/records/samples.ts";
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";
import { DEFAULT_CHANGE_POINT_OPTIONS, detectChangePoints } from "../../actions/src/stats/changepoint.ts";
import { medianCi } from "../../actions/src/stats/median-ci.ts";
import { isInfra, reproduceCell } from "../cell-report.ts";
import { type LatestChange, stateOfRecord } from "./cell-state.ts";
import {
  type BisectEntry,
  type CellPage,
  CHARTED_METRICS,
  type ChangePointMark,
  cellKey,
  type MetricSeries,
  type OverviewCell,
} from "./model.ts";
import { CANARY_LABELS, type CanarySpec, canaryMark, canaryOf } from "./upstream-page.ts";

export interface CellContext {
  config: CompareConfig;
  /** https://github.com/OWNER/REPO: links to the cell's nightly issues; null: no links. */
  repoUrl: string | null;
  /** How many of the newest records the page links to (copied into the site). */
  keepRecords: number;
  /** The matrix's canaries: a canary cell's page and square carry its known issue's state. */
  canaries: CanarySpec[];
  /** The store's bisections, newest first: each cell's page lists its own. */
  bisects: BisectEntry[];
}

export interface CellDigest {
  page: CellPage;
  /** The newest records, newest first, to copy into the site as `records/<key>/<n>.json`. */
  newest: StoredRecord[];
}

/** Seconds since the epoch (uPlot's time axis). */
export const seconds = (iso: string) => Math.round(Date.parse(iso) / 1000);
const round = (x: number) => Number(x.toPrecision(5));

function series(
  nightly: readonly RunRecord[],
  cell: string,
  metric: string,
): { points: SeriesPoint[]; data: MetricSeries } | null {
  const first = nightly.find((r) => r.metrics[metric] !== undefined)?.metrics[metric];
  if (first === undefined) return null;
  const points = cellSeries(nightly, cell, metric);
  const data: MetricSeries = {
    unit: first.unit,
    better: first.better,
    t: [],
    median: [],
    lo: [],
    hi: [],
    flagged: [],
  };
  for (const p of points) {
    const ci = medianCi(p.samples);
    data.t.push(seconds(p.started_at));
    data.median.push(round(p.value));
    data.lo.push(ci === null ? null : round(ci.lo));
    data.hi.push(ci === null ? null : round(ci.hi));
  }
  for (const r of nightly) {
    const m = r.metrics[metric];
    m?.sample_flags?.forEach((flags, i) => {
      if (flags.length > 0)
        data.flagged.push([seconds(r.started_at), round(m.samples[i] as number), flags.join(", ")]);
    });
  }
  return { points, data };
}

/**
 * The series' change points as detectSeries (compare/detect.ts) gives them, without the noise
 * floor it also measures (the page does not show it, and it costs as much as the test).
 */
function changePoints(points: readonly SeriesPoint[], minEffect: number): ChangePoint[] {
  return detectChangePoints(
    points.map((p) => p.value),
    { minEffect },
  ).map((c) => {
    const at = points[c.index] as SeriesPoint;
    return { ...c, started_at: at.started_at, git_sha: at.git_sha, confirmed: false as const };
  });
}

/**
 * Whether a change point is confirmed. One that is not the metric's newest has held since (later
 * nights made a newer level). The newest is confirmed when it was already found the night before
 * (the series without its last night shows a change the same way within `minSegment` nights) and
 * the last night agrees with it (compare/detect.ts confirm): the last night plays the nightly
 * workflow's confirmation re-run. Found only with tonight's night, or not reproduced by it, it is
 * a candidate.
 */
function confirmation(
  cp: ChangePoint,
  newest: boolean,
  previous: () => readonly ChangePoint[],
  latest: RunRecord,
  metric: string,
): { confirmed: boolean; why: string } {
  if (!newest) return { confirmed: true, why: "a newer level followed it" };
  const up = cp.ratio > 1;
  const before = previous().some(
    (p) => p.ratio > 1 === up && Math.abs(p.index - cp.index) <= DEFAULT_CHANGE_POINT_OPTIONS.minSegment,
  );
  if (!before)
    return {
      confirmed: false,
      why: "candidate: first found with the last night; the next night confirms it or not",
    };
  const check = confirm(cp, latest, metric);
  return check.confirmed
    ? { confirmed: true, why: `found before the last night, and ${check.reason}` }
    : { confirmed: false, why: `candidate: ${check.reason}` };
}

function mark(
  metric: string,
  points: readonly SeriesPoint[],
  cp: ChangePoint,
  better: "higher" | "lower",
  confirmed: { confirmed: boolean; why: string },
): ChangePointMark {
  const worse = better === "higher" ? cp.ratio < 1 : cp.ratio > 1;
  return {
    metric,
    night: cp.started_at,
    kind: worse ? "regression" : "improvement",
    confirmed: confirmed.confirmed,
    before: round(cp.before_median),
    after: round(cp.after_median),
    ratio: round(cp.ratio),
    p_value: cp.p_value,
    commits: { from: points[cp.index - 1]?.git_sha ?? null, to: cp.git_sha },
    why: confirmed.why,
  };
}

function versionsOf(r: RunRecord): Record<string, string | null> {
  return r.toolchain.device ?? r.toolchain.build ?? {};
}

function toolchainChanges(nightly: readonly RunRecord[]): CellPage["toolchain_changes"] {
  const out: CellPage["toolchain_changes"] = [];
  let prev: Record<string, string | null> | null = null;
  for (const r of nightly) {
    const now = versionsOf(r);
    if (prev !== null) {
      const changes = [...new Set([...Object.keys(prev), ...Object.keys(now)])]
        .filter((k) => prev?.[k] !== now[k])
        .sort()
        .map((k) => `${k} ${prev?.[k] ?? "none"} → ${now[k] ?? "none"}`);
      if (changes.length > 0) out.push({ night: r.started_at, t: seconds(r.started_at), changes });
    }
    prev = now;
  }
  return out;
}

function verdictOf(r: RunRecord): string {
  if (r.gate !== null) return r.gate.verdict;
  if (isInfra(r)) return r.status;
  return `no gate (${r.failure?.stage ?? "a stage"} failed)`;
}

function gateHistory(nightly: readonly RunRecord[], max = 60): CellPage["gate"] {
  const out: CellPage["gate"] = [];
  for (const r of nightly) {
    const verdict = verdictOf(r);
    const last = out.at(-1);
    if (last !== undefined && last.verdict === verdict) {
      last.to = r.started_at;
      last.nights++;
      continue;
    }
    const d = r.gate?.first_divergence ?? null;
    out.push({
      from: r.started_at,
      to: r.started_at,
      nights: 1,
      verdict,
      first_divergence: d === null ? null : describeDivergence(d),
    });
  }
  return out.slice(-max);
}

function knownIssues(nightly: readonly RunRecord[]): CellPage["known_issues"] {
  const byId = new Map<string, CellPage["known_issues"][number]>();
  for (const r of nightly) {
    const id = r.failure?.known_issue;
    if (id === null || id === undefined) continue;
    const seen = byId.get(id);
    if (seen === undefined)
      byId.set(id, {
        id,
        first: r.started_at,
        last: r.started_at,
        nights: 1,
        triage: r.failure?.triage ?? "",
      });
    else {
      seen.last = r.started_at;
      seen.nights++;
      seen.triage = r.failure?.triage ?? seen.triage;
    }
  }
  return [...byId.values()];
}

/** The page of one cell; `stored` is that cell's records (any roles), oldest first. */
export function digestCell(stored: readonly StoredRecord[], ctx: CellContext): CellDigest {
  const all = stored.map((s) => s.record);
  const nightlyOnly = all.filter((r) => r.role === "nightly");
  // A farm that runs no nightly yet (only PRs) still gets a page, from whatever ran.
  const nightly = nightlyOnly.length > 0 ? nightlyOnly : all.filter((r) => r.role !== "release");
  const latest = (nightly.at(-1) ?? all.at(-1)) as RunRecord;
  const id = latest.cell.id;
  const metrics: Record<string, MetricSeries> = {};
  const marks: ChangePointMark[] = [];
  const newestChanges: LatestChange[] = [];
  for (const metric of CHARTED_METRICS) {
    const s = series(nightly, id, metric);
    if (s === null || s.points.length === 0) continue;
    metrics[metric] = s.data;
    const { min_effect } = settingsFor(ctx.config, metric, latest.cell.device);
    const detect = (points: readonly SeriesPoint[]) => changePoints(points, min_effect);
    const cps = detect(s.points);
    const previous = () => detect(s.points.slice(0, -1));
    const ms = cps.map((cp, i) =>
      mark(
        metric,
        s.points,
        cp,
        s.data.better,
        confirmation(cp, i === cps.length - 1, previous, latest, metric),
      ),
    );
    marks.push(...ms);
    const last = cps.at(-1);
    const lastMark = ms.at(-1);
    if (last !== undefined && lastMark !== undefined)
      newestChanges.push({
        metric,
        cp: last,
        worse: lastMark.kind === "regression",
        confirmed: lastMark.confirmed,
      });
  }
  const nights = metrics.decode_tokens_per_sec?.t.length ?? 0;
  const state = stateOfRecord(latest, newestChanges, {
    nights,
    cleanReps: cleanSamples(latest.metrics.decode_tokens_per_sec).length,
  });
  const emulated = latest.device.emulation !== undefined;
  const overview: OverviewCell = {
    id,
    row: `${latest.cell.model}/${latest.cell.recipe}/${latest.cell.backend}`,
    col: `${latest.cell.device}@${latest.cell.toolchain}`,
    model: latest.cell.model,
    device: latest.cell.device,
    toolchain: latest.cell.toolchain,
    ...state,
    latest: latest.started_at,
    key: cellKey(id),
    emulated,
  };
  const canary = canaryOf(id, ctx.canaries);
  const canaryState = canary === null ? null : canaryMark(nightly, canary);
  if (canaryState !== null) {
    // A canary is expected to fail: its square says what that failure means, not only that it failed.
    overview.canary = canaryState;
    overview.label = `canary: ${CANARY_LABELS[canaryState.state]}`;
    overview.detail = `canary of known issue ${canaryState.known_issue}: ${CANARY_LABELS[canaryState.state]} since ${canaryState.since.slice(0, 10)}. ${overview.detail}`;
  }
  const newest = stored.slice(-ctx.keepRecords).reverse();
  const statuses: Record<string, number> = {};
  for (const r of nightly) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const query = `is:issue "${id}"`;
  return {
    newest,
    page: {
      schema: "pte-farm/dashboard-cell@1",
      cell: overview,
      metrics,
      change_points: marks,
      toolchain_changes: toolchainChanges(nightly),
      gate: gateHistory(nightly),
      known_issues: knownIssues(nightly),
      reproduce: latest.failure?.reproduce ?? reproduceCell(id),
      records: newest.map((s, i) => ({
        id: s.path,
        night: s.record.started_at,
        role: s.record.role,
        status: s.record.status,
        git_sha: s.record.git_sha,
        url: `records/${overview.key}/${i}.json`,
      })),
      statuses,
      issues_url: ctx.repoUrl === null ? null : `${ctx.repoUrl}/issues?q=${encodeURIComponent(query)}`,
      repo_url: ctx.repoUrl,
      emulated,
      bisects: ctx.bisects.filter((b) => b.cell === id),
    },
  };
}
