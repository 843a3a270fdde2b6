/**
 * The dashboard's data files: what `pte-farm dashboard build` writes and the site's pages read.
 * One overview (every cell's latest state), one file per cell (its whole history, loaded only when
 * its page opens), one each for the devices, the releases and upstream (channels, canaries, bisections). Every string in them came from a
 * run record, which a fork's PR can shape: the pages put them in the DOM as text, never as markup.
 *
 * The files are JavaScript (`pteFarmData("cell", {...})`), not JSON: a page loads them with a
 * script tag, which works from GitHub Pages and from a folder opened in a browser (file:// forbids
 * fetch). The payload is JSON.stringify's output, which is also a valid JavaScript expression.
 */
import type { BisectRecord } from "../../actions/src/bisect/record.ts";
import type { CanaryState } from "../../actions/src/canaries/verdicts.ts";

/** A cell's state on the overview, most urgent first (the order of the legend and the counts). */
export const CELL_STATES = [
  "regression",
  "gate-failed",
  "stage-failed",
  "infra",
  "quarantined",
  "inconclusive",
  "skipped",
  "pass",
] as const;
export type CellState = (typeof CELL_STATES)[number];

/** The metrics a cell page charts, in order. */
export const CHARTED_METRICS = [
  "decode_tokens_per_sec",
  "prefill_tokens_per_sec",
  "first_token_ms",
  "peak_rss_mb",
] as const;

export interface OverviewCell {
  id: string;
  /** `model/recipe/backend`: the overview's row. */
  row: string;
  /** `device@toolchain`: the overview's column. */
  col: string;
  model: string;
  device: string;
  toolchain: string;
  state: CellState;
  /** Short words shown in the square with the colour (never colour alone): "−9.8% decode", "lower failed". */
  label: string;
  /** One sentence: why this state. */
  detail: string;
  /** The newest record's night, ISO. */
  latest: string;
  /** The data file's name (cellKey). */
  key: string;
  emulated: boolean;
  /** A canary's cell (matrix/farm.yml `canaries`): its known issue's state. */
  canary?: CanaryMark;
}

/** A canary cell's state (canaries/verdicts.ts canaryState of its newest night), and since when. */
export interface CanaryMark {
  known_issue: string;
  stage: string;
  state: CanaryState;
  /** The first night of the newest run of nights in this state. */
  since: string;
  /** Nights the canary ran. */
  nights: number;
}

/** A bisect record (`pte-farm/bisect@1`) as the upstream and cell pages show it. */
export interface BisectEntry {
  id: string;
  started_at: string;
  subject: string;
  /** The bisected cell's id, when the subject is a cell; key: its page, when it has one. */
  cell: string | null;
  key: string | null;
  verdict: BisectRecord["verdict"];
  package: string | null;
  last_good: string | null;
  first_bad: string | null;
  untestable: string[];
  metric: string | null;
  good: { toolchain: string; versions: string };
  bad: { toolchain: string; versions: string };
  evidence: { stage: string | null; detail: string };
  builds: number;
  released_between: number;
  wall_s: number;
  reproduce: string;
}

export interface Overview {
  schema: "pte-farm/dashboard-overview@1";
  generated_at: string;
  store: string;
  /** The newest night in the history (a cell that did not run then is skipped). */
  latest_night: string | null;
  records: number;
  cells: OverviewCell[];
}

export interface ChangePointMark {
  metric: string;
  /** The first night of the new level, ISO. */
  night: string;
  kind: "regression" | "improvement";
  /** Regressions: confirmed by the nights after it, or a candidate still waiting for them. */
  confirmed: boolean;
  before: number;
  after: number;
  ratio: number;
  p_value: number;
  /** The commits between the last night at the old level and the first at the new one. */
  commits: { from: string | null; to: string | null };
  why: string;
}

export interface MetricSeries {
  unit: string;
  better: "higher" | "lower";
  /** Parallel arrays, one entry per night the cell passed with clean reps; times in seconds. */
  t: number[];
  median: number[];
  /** The median's distribution-free 95% interval (stats/median-ci.ts); null with < 6 clean reps. */
  lo: (number | null)[];
  hi: (number | null)[];
  /** Flagged (throttled, hot) reps: [seconds, value, flags]. */
  flagged: [number, number, string][];
}

export interface CellPage {
  schema: "pte-farm/dashboard-cell@1";
  cell: OverviewCell;
  metrics: Record<string, MetricSeries>;
  change_points: ChangePointMark[];
  /** Nights where the toolchain's versions differ from the night before. */
  toolchain_changes: { night: string; t: number; changes: string[] }[];
  /** Runs of nights with one gate verdict (or no gate: a stage failed first), newest last. */
  gate: { from: string; to: string; nights: number; verdict: string; first_divergence: string | null }[];
  known_issues: { id: string; first: string; last: string; nights: number; triage: string }[];
  reproduce: string;
  /** The newest records, newest first, with the store id they can be fetched by. */
  records: {
    id: string;
    night: string;
    role: string;
    status: string;
    git_sha: string | null;
    url: string | null;
  }[];
  /** Nights in the history, by status. */
  statuses: Record<string, number>;
  issues_url: string | null;
  /** https://github.com/OWNER/REPO when given: commit ranges link to GitHub's compare view. */
  repo_url: string | null;
  emulated: boolean;
  /** farm-upstream's bisections of this cell, newest first. */
  bisects: BisectEntry[];
}

export interface DeviceEntry {
  device: string;
  health: { state: string; checked_at: string } | null;
  quarantined: boolean;
  reason: string | null;
  infra_streak: number;
  /** The newest health reports, newest first. */
  reports: { checked_at: string; state: string; detail: string }[];
  /** Per night (seconds): the hottest reading and how many reps were flagged of how many. */
  thermal: { t: number[]; max_c: (number | null)[]; flagged: number[]; reps: number[] };
  cells: number;
  emulated: boolean;
}

export interface DevicesPage {
  schema: "pte-farm/dashboard-devices@1";
  devices: DeviceEntry[];
}

export interface ReleaseEntry {
  git_sha: string | null;
  night: string;
  files: {
    cell: string;
    key: string;
    sha256: string | null;
    bytes: number | null;
    decode: number | null;
    gate: string;
    status: string;
  }[];
}

export interface ReleasesPage {
  schema: "pte-farm/dashboard-releases@1";
  releases: ReleaseEntry[];
}

/**
 * A cell's data file name: its id made file-safe, plus a 32-bit FNV-1a hash of the id so two ids
 * that clean to the same name do not collide. The site computes the same in the browser (site/common.js).
 */
export function cellKey(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);
  return `${safe}-${h.toString(16).padStart(8, "0")}`;
}

/** The text of a data file. */
export function dataFile(
  kind: "overview" | "cell" | "devices" | "releases" | "upstream",
  data: unknown,
): string {
  return `pteFarmData(${JSON.stringify(kind)},${JSON.stringify(data)});\n`;
}
