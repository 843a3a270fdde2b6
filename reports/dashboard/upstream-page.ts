/**
 * The dashboard's upstream page: what farm-upstream adds to the history. Each toolchain channel's
 * cells and their states; each canary (a cell expected to fail with a known issue, matrix/farm.yml
 * `canaries`) with its state on every toolchain, read from its records by the rule `pte-farm
 * canaries` uses (canaries/verdicts.ts canaryState); each bisection (`pte-farm/bisect@1` records
 * in the store): which package and release first broke which cell. Nothing is decided here.
 */
import type { BisectRecord } from "../../actions/src/bisect/record.ts";
import { canaryState } from "../../actions/src/canaries/verdicts.ts";
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";
import {
  type BisectEntry,
  type CanaryMark,
  CELL_STATES,
  type CellState,
  cellKey,
  type OverviewCell,
} from "./model.ts";

/** A canary of the matrix: its cell without a toolchain, its known issue and the stage it fails at. */
export interface CanarySpec {
  cell: string;
  knownIssue: string;
  stage: string;
}

/** A canary's state in a square's few words. */
export const CANARY_LABELS: Record<CanaryMark["state"], string> = {
  reproduces: "reproduces",
  "reproduces-outside-range": "reproduces outside its range",
  "no-longer-reproduces": "possibly fixed upstream",
  "fails-differently": "fails differently",
  infrastructure: "no verdict (infrastructure)",
};

/** The canary a cell is, if any (its id is the canary's cell at some toolchain). */
export function canaryOf(cellId: string, canaries: readonly CanarySpec[]): CanarySpec | null {
  return canaries.find((c) => cellId.startsWith(`${c.cell}@`)) ?? null;
}

/** The canary's state on each of its nights, reduced to the newest and since when. */
export function canaryMark(nightly: readonly RunRecord[], spec: CanarySpec): CanaryMark | null {
  const latest = nightly.at(-1);
  if (latest === undefined) return null;
  const issue = { id: spec.knownIssue };
  const state = canaryState(latest, issue, spec.stage);
  let since = latest.started_at;
  for (let i = nightly.length - 2; i >= 0; i--) {
    const r = nightly[i] as RunRecord;
    if (canaryState(r, issue, spec.stage) !== state) break;
    since = r.started_at;
  }
  return { known_issue: spec.knownIssue, stage: spec.stage, state, since, nights: nightly.length };
}

export interface ChannelEntry {
  toolchain: string;
  cells: number;
  states: Partial<Record<CellState, number>>;
  latest: string;
}

export interface CanaryEntry extends CanaryMark {
  title: string | null;
  cell: string;
  key: string;
  toolchain: string;
  latest: string;
}

export interface UpstreamPage {
  schema: "pte-farm/dashboard-upstream@1";
  channels: ChannelEntry[];
  canaries: CanaryEntry[];
  bisects: BisectEntry[];
}

/** `cell <id>` (pte-farm bisect --cell) → the id; a command's subject names no cell. */
export function bisectCell(subject: string): string | null {
  return subject.startsWith("cell ") ? subject.slice(5) : null;
}

/** The store's bisect records as the pages show them, newest first. */
export function bisectEntries(bisects: readonly { path: string; record: BisectRecord }[]): BisectEntry[] {
  return bisects
    .map(({ path, record: r }) => {
      const cell = bisectCell(r.subject);
      return {
        id: path,
        started_at: r.started_at,
        subject: r.subject,
        cell,
        key: cell === null ? null : cellKey(cell),
        verdict: r.verdict,
        package: r.package,
        last_good: r.last_good,
        first_bad: r.first_bad,
        untestable: r.untestable,
        metric: r.metric,
        good: { toolchain: r.good.toolchain, versions: r.good.versions },
        bad: { toolchain: r.bad.toolchain, versions: r.bad.versions },
        evidence: { stage: r.evidence.stage, detail: r.evidence.detail },
        builds: r.builds,
        released_between: r.released_between,
        wall_s: r.wall_s,
        reproduce: r.reproduce,
      };
    })
    .reverse();
}

export function upstreamPage(
  cells: readonly OverviewCell[],
  bisects: readonly BisectEntry[],
  titles: ReadonlyMap<string, string>,
  /** Toolchains that are channels (resolved from the package index), by name. */
  channels: ReadonlySet<string>,
): UpstreamPage {
  const byToolchain = new Map<string, ChannelEntry>();
  for (const c of cells) {
    if (!channels.has(c.toolchain)) continue;
    const e = byToolchain.get(c.toolchain) ?? {
      toolchain: c.toolchain,
      cells: 0,
      states: {},
      latest: c.latest,
    };
    e.cells++;
    e.states[c.state] = (e.states[c.state] ?? 0) + 1;
    if (c.latest > e.latest) e.latest = c.latest;
    byToolchain.set(c.toolchain, e);
  }
  for (const e of byToolchain.values()) {
    const ordered: Partial<Record<CellState, number>> = {};
    for (const s of CELL_STATES) if (e.states[s] !== undefined) ordered[s] = e.states[s];
    e.states = ordered;
  }
  const canaries: CanaryEntry[] = cells
    .filter((c) => c.canary !== undefined)
    .map((c) => ({
      ...(c.canary as CanaryMark),
      title: titles.get((c.canary as CanaryMark).known_issue) ?? null,
      cell: c.id,
      key: c.key,
      toolchain: c.toolchain,
      latest: c.latest,
    }))
    .sort((a, b) => a.known_issue.localeCompare(b.known_issue) || a.toolchain.localeCompare(b.toolchain));
  const ids = new Set(cells.map((c) => c.id));
  // A bisected cell with no records in the history has no page to link to.
  const entries = bisects.map((b) => (b.cell !== null && ids.has(b.cell) ? b : { ...b, key: null }));
  return {
    schema: "pte-farm/dashboard-upstream@1",
    channels: [...byToolchain.values()].sort((a, b) => a.toolchain.localeCompare(b.toolchain)),
    canaries,
    bisects: entries,
  };
}
