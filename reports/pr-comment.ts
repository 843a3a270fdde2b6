/**
 * The sticky bench comment on a PR, and the job summary that carries the same table. Pure: cell
 * reports in (records that came from a fork's artefacts, so every string from them is escaped),
 * markdown out.
 *
 * The comment must fit GitHub's body limit (see size.ts for how it is counted). Everything is
 * built as whole blocks, each bounded, so fitting drops whole blocks and never cuts inside a
 * character, a tag or a fence: first the per-cell details (least urgent cell first), then the
 * skipped list, the trend charts and the known-issue notes, and last the table's rows (least
 * urgent first), with a line saying how many were left out and where the full report is.
 */
import type { KnownIssue } from "../matrix/known-issues.ts";
import { cellDetails, skippedDetails } from "./cell-details.ts";
import {
  byUrgency,
  type CellReport,
  HEADLINE_METRIC,
  knownIssueIndex,
  metricMedian,
  outcomeOf,
  renderSummaryLine,
  type SkippedCell,
  summaryCounts,
  TABLE_HEADER,
  tableRow,
} from "./cell-report.ts";
import { codeSpan, escapeInline, link, shortSha } from "./escape.ts";
import { trendChart } from "./mermaid.ts";
import { numericsNote } from "./numerics.ts";
import { COMMENT_BUDGET, fitCount, githubSize, JOB_SUMMARY_BUDGET } from "./size.ts";

export { failureAnnotations } from "./annotations.ts";

/** First line of the sticky comment: how the report action finds the comment to update. */
export const PR_COMMENT_MARKER = "<!-- pte-farm:bench -->";

export interface ReportInput {
  cells: readonly CellReport[];
  skipped?: readonly SkippedCell[];
  /** The catalogue (matrix/known-issues.yml), to name and explain the known issues cells hit. */
  knownIssues?: readonly KnownIssue[];
  /** The workflow run: linked as the full report when the comment had to be shortened. */
  runUrl?: string | null;
  headSha?: string | null;
  baseSha?: string | null;
  /**
   * Cells the plan sent to a device that sent back no run record (the job died before its gate,
   * or its runner went away). Named, never silently left out; infrastructure, not regressions.
   */
  missing?: readonly string[];
  /** The farm dashboard's base URL (PTE_FARM_DASHBOARD_URL): each cell's details link to its page. */
  dashboardUrl?: string | null;
}

const MISSING_SHOWN = 20;

/** The line naming cells that sent no result, or null when every planned cell reported. */
function missingLine(missing: readonly string[]): string | null {
  if (missing.length === 0) return null;
  const shown = missing.slice(0, MISSING_SHOWN).map((c) => codeSpan(c, { max: 160 }));
  if (missing.length > MISSING_SHOWN) shown.push(`and ${missing.length - MISSING_SHOWN} more`);
  return (
    `⚠️ **${missing.length} ${missing.length === 1 ? "cell" : "cells"} sent no result** ` +
    `(the device job ended without a run record: infrastructure, not a regression; see the workflow run): ${shown.join(", ")}`
  );
}

export interface RenderOptions {
  /** Size budget in githubSize units (default: COMMENT_BUDGET for the comment). */
  budget?: number;
  /** How many trend points a chart shows (default 20). */
  trendPoints?: number;
}

/** Known issues the cells hit (by their failure triage) or were skipped for, with the cells. */
function knownIssueNotes(input: ReportInput): string | null {
  const index = knownIssueIndex(input.knownIssues);
  const cellsByIssue = new Map<string, string[]>();
  const add = (id: string, cell: string) => cellsByIssue.set(id, [...(cellsByIssue.get(id) ?? []), cell]);
  for (const c of input.cells)
    if (c.head.failure?.known_issue) add(c.head.failure.known_issue, c.head.cell.id);
  for (const s of input.skipped ?? []) if (s.known_issue) add(s.known_issue, `${s.cell} (skipped)`);
  if (cellsByIssue.size === 0) return null;
  const items = [...cellsByIssue.entries()].slice(0, 20).map(([id, cells]) => {
    const issue = index.get(id);
    const shown = cells.slice(0, 5).map((cell) => codeSpan(cell, { max: 160 }));
    if (cells.length > 5) shown.push(`and ${cells.length - 5} more`);
    const about =
      issue === undefined
        ? "not in this branch's catalogue"
        : `${escapeInline(issue.title, 300)} — workaround: ${escapeInline(issue.workaround, 400)}`;
    return `- **known issue ${codeSpan(id, { max: 60 })}**: ${about} (${shown.join(", ")})`;
  });
  return ["#### Known issues", items.join("\n")].join("\n\n");
}

/** A chart for each regressed cell with at least two trend points: recent nightlies, then this PR. */
function trendCharts(cells: readonly CellReport[], points: number): string[] {
  return cells
    .filter((c) => outcomeOf(c) === "regression" && (c.trend?.length ?? 0) >= 2)
    .map((c) => {
      const trend = (c.trend ?? []).slice(-points);
      const head = metricMedian(c.head, HEADLINE_METRIC);
      const labels = [...trend.map((p) => p.label), ...(head === null ? [] : ["this PR"])];
      const values = [...trend.map((p) => p.value), ...(head === null ? [] : [head])];
      return [
        `${codeSpan(c.head.cell.id, { max: 160 })}: decode tok/s, last ${trend.length} nightlies on main, then this PR`,
        trendChart({
          title: "decode tok/s",
          yLabel: "tok/s",
          labels,
          series: [{ values }],
          maxPoints: points + 1,
        }),
      ].join("\n\n");
    });
}

interface Parts {
  head: string[];
  rows: string[];
  notes: string[];
  charts: string[];
  skipped: string[];
  details: string[];
  foot: string[];
}

const BLOCK_SEP = "\n\n";

function assemble(
  p: Parts,
  omitted: { rows: number; details: number; other: boolean },
  more: string,
): string {
  const blocks = [...p.head, [TABLE_HEADER, ...p.rows].join("\n")];
  if (omitted.rows > 0)
    blocks.push(`… ${omitted.rows} more ${omitted.rows === 1 ? "cell" : "cells"} — ${more}`);
  blocks.push(...p.notes);
  if (p.charts.length > 0) blocks.push("#### Trend of regressed cells", ...p.charts);
  blocks.push(...p.skipped);
  if (p.details.length > 0) blocks.push("#### Details", ...p.details);
  if (omitted.details > 0 || omitted.other) {
    blocks.push(`<sub>Some details were left out to fit GitHub's size limit — ${more}</sub>`);
  }
  blocks.push(...p.foot);
  return `${blocks.join(BLOCK_SEP)}\n`;
}

/**
 * Drops blocks until the document fits: details, skipped list, charts, notes, then table rows.
 * The running size is kept per block, so this is linear in the number of cells.
 */
function fitBlocks(p: Parts, budget: number, more: string): string {
  const omitted = { rows: 0, details: 0, other: false };
  // Reserve room for the two notices and the separators a shortened document adds.
  const reserve = githubSize(`… 000000 more cells — ${more}`) + githubSize(more) + 200;
  const full = assemble(p, omitted, more);
  if (githubSize(full) <= budget) return full;
  let size = githubSize(full) + reserve;
  const dropFrom = (list: string[], count: () => void) => {
    while (list.length > 0 && size > budget) {
      size -= githubSize(list.pop() as string) + githubSize(BLOCK_SEP);
      count();
    }
  };
  dropFrom(p.details, () => omitted.details++);
  dropFrom(p.skipped, () => (omitted.other = true));
  dropFrom(p.charts, () => (omitted.other = true));
  dropFrom(p.notes, () => (omitted.other = true));
  if (size > budget) {
    const rowsSize = p.rows.reduce((s, r) => s + githubSize(r) + 2, 0);
    const keep = fitCount(p.rows, budget - (size - rowsSize), "\n");
    omitted.rows = p.rows.length - keep;
    p.rows = p.rows.slice(0, keep);
  }
  const out = assemble(p, omitted, more);
  if (githubSize(out) > budget) {
    throw new Error(`bug: the report's fixed parts alone (${githubSize(out)}) exceed the budget ${budget}`);
  }
  return out;
}

function render(
  input: ReportInput,
  opts: RenderOptions & { marker: boolean; title: string; charts: boolean },
): string {
  const cells = byUrgency(input.cells);
  const counts = summaryCounts(cells, input.skipped ?? []);
  const where = [
    `head ${shortSha(input.headSha)}`,
    ...(input.baseSha ? [`base ${shortSha(input.baseSha)}`] : []),
    ...(input.runUrl ? [link("workflow run", input.runUrl)] : []),
  ].join(" · ");
  const more = input.runUrl
    ? `full report: ${link("workflow run", input.runUrl)}`
    : "full report: the workflow run's job summary";
  const known = knownIssueIndex(input.knownIssues);
  // A hub-model cell that could not run points at its twin's cell in the same report.
  const byCell = new Map(cells.map((c) => [c.head.cell.id, c]));
  const notes = [knownIssueNotes(input), numericsNote(cells)].filter((n) => n !== null);
  const skipped = skippedDetails(input.skipped ?? []);
  const parts: Parts = {
    head: [
      `${opts.marker ? `${PR_COMMENT_MARKER}\n` : ""}### ${opts.title}`,
      renderSummaryLine(counts),
      ...[missingLine(input.missing ?? [])].filter((l) => l !== null),
    ],
    rows: cells.map(tableRow),
    notes,
    charts: opts.charts ? trendCharts(cells, opts.trendPoints ?? 20) : [],
    skipped: skipped === null ? [] : [skipped],
    details: cells.map((c) => cellDetails(c, known, input.dashboardUrl ?? null, byCell)),
    foot: [`<sub>${where}</sub>`],
  };
  return fitBlocks(parts, opts.budget ?? COMMENT_BUDGET, more);
}

/** The sticky PR comment: starts with {@link PR_COMMENT_MARKER}, fits GitHub's body limit. */
export function renderPrComment(input: ReportInput, opts: RenderOptions = {}): string {
  return render(input, { ...opts, marker: true, title: "pte-farm bench", charts: true });
}

/**
 * The job summary: the same summary line, table, notes and details within the 1 MiB a step may
 * write; no marker, and no charts (GitHub does not promise mermaid in job summaries).
 */
export function renderJobSummary(input: ReportInput, opts: RenderOptions = {}): string {
  return render(input, {
    budget: JOB_SUMMARY_BUDGET,
    ...opts,
    marker: false,
    title: "pte-farm results",
    charts: false,
  });
}
