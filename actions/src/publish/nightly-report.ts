/**
 * farm-nightly's last step: the night's decisions (nightly.ts) turned into issues. One issue per
 * regressed cell × metric, found again by its hidden marker: opened when a regression is confirmed,
 * its body kept current while it lasts, closed with a note when the cell recovers.
 *
 * The records here come from the farm's own runs of main (not from a fork), but they are still
 * read through the run-record schema, and every string is escaped by the renderers.
 */
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { renderFailureIssue, renderFailureRecoveryNote } from "../../../reports/failure-issue.ts";
import {
  parseRegressionMarker,
  REGRESSION_LABELS,
  regressionMarker,
  renderRecoveryNote,
  renderRegressionIssue,
} from "../../../reports/regression-issue.ts";
import { loadCompareConfig } from "../compare/config.ts";
import { cellSeries } from "../compare/detect.ts";
import type { Logger } from "../core/logger.ts";
import type { GitHub } from "../github/client.ts";
import { callGitHub } from "../github/errors.ts";
import { type SyncResult, syncRegressionIssue } from "../github/issues.ts";
import { type IssueAction, type NightlyDecision, nightly, type OpenRegression } from "../history/nightly.ts";
import { openStoreOrFolder } from "../history/open.ts";
import { nightlySeries } from "../history/store.ts";
import { recordsUnder } from "../records/read.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export interface NightlyReportOptions {
  gh: GitHub;
  owner: string;
  repo: string;
  /** The history store (`dir:PATH`, `git:REPO[#branch]`, or a bare folder), tonight's records included. */
  history: string;
  /** Folder of tonight's run records (any depth). */
  tonight: string;
  /** Folder of the confirmation re-runs' records; may be absent or empty. */
  confirmations?: string;
  knownIssuesFile: string;
  compareConfigFile?: string;
  runUrl?: string | null;
  /** The farm dashboard's base URL (empty or absent: none); regression issues link to the cell's page. */
  dashboardUrl?: string | null;
  logger: Logger;
}

export interface IssueOutcome {
  cell: string;
  metric: string;
  kind: IssueAction["kind"];
  state: IssueAction["state"];
  action: SyncResult["action"];
  number: number | null;
}

export interface NightlyReportResult {
  decision: NightlyDecision;
  issues: IssueOutcome[];
}

/** The regression issues open now, by the marker on their first line. */
export async function openRegressions(gh: GitHub, owner: string, repo: string): Promise<OpenRegression[]> {
  return callGitHub(
    { action: `list the open issues of ${owner}/${repo}`, permission: "issues: read" },
    async () => {
      const out: OpenRegression[] = [];
      const pages = gh.paginate.iterator(gh.rest.issues.listForRepo, {
        owner,
        repo,
        state: "open",
        labels: REGRESSION_LABELS.join(","),
        per_page: 100,
      });
      for await (const page of pages) {
        for (const issue of page.data) {
          const m = issue.pull_request === undefined ? parseRegressionMarker(issue.body) : null;
          if (m !== null) out.push(m);
        }
      }
      return out;
    },
  );
}

function newest(records: readonly RunRecord[], cell: string): RunRecord | undefined {
  return records
    .filter((r) => r.cell.id === cell)
    .sort((a, b) => a.started_at.localeCompare(b.started_at))
    .at(-1);
}

interface Rendered {
  title: string;
  body: string;
  labels: string[];
  note?: string;
}

function render(
  a: IssueAction,
  ctx: { history: RunRecord[]; tonight: RunRecord[]; confirmations: RunRecord[] } & Pick<
    NightlyReportOptions,
    "runUrl" | "dashboardUrl"
  > & { knownIssues: Awaited<ReturnType<typeof loadKnownIssues>> },
): Rendered {
  const marker = regressionMarker(a.cell, a.metric);
  const runUrl = ctx.runUrl ?? null;
  if (a.kind === "performance") {
    const nightlyRecords = ctx.history.filter((r) => r.role === "nightly");
    const series = cellSeries(nightlyRecords, a.cell, a.metric);
    const sample = newest(nightlyRecords, a.cell)?.metrics[a.metric];
    const unit = sample?.unit ?? "";
    const better = sample?.better ?? "higher";
    if (a.state === "recovered") {
      const cp = a.changePoint;
      const note =
        cp === null
          ? renderFailureRecoveryNote({ cell: a.cell, metric: a.metric, night: a.latest, runUrl })
          : renderRecoveryNote({
              cell: a.cell,
              metric: a.metric,
              unit,
              night: {
                started_at: a.latest.started_at,
                git_sha: a.latest.git_sha,
                value: a.latest.value ?? Number.NaN,
              },
              changePoint: cp,
              runUrl,
            });
      return { title: "", body: marker, labels: [...REGRESSION_LABELS], note };
    }
    if (a.changePoint === null)
      throw new Error(`bug: performance issue for ${a.cell} ${a.metric} without a change point`);
    return renderRegressionIssue({
      detection: { cell: a.cell, metric: a.metric, nights: series.length, noise_floor: null },
      changePoint: a.changePoint,
      series,
      unit,
      better,
      confirmation: a.confirmation,
      runUrl,
      dashboardUrl: ctx.dashboardUrl ?? null,
    });
  }
  if (a.state === "recovered") {
    const note = renderFailureRecoveryNote({ cell: a.cell, metric: a.metric, night: a.latest, runUrl });
    return { title: "", body: marker, labels: [...REGRESSION_LABELS], note };
  }
  const record = newest(ctx.confirmations, a.cell) ?? newest(ctx.tonight, a.cell);
  if (record === undefined) throw new Error(`bug: failure issue for ${a.cell} without a record`);
  return renderFailureIssue({
    cell: a.cell,
    metric: a.metric,
    record,
    reason: a.reason,
    confirmation:
      a.confirmation === null
        ? null
        : {
            started_at: a.confirmation.night.started_at,
            git_sha: a.confirmation.night.git_sha,
            reason: a.confirmation.reason,
          },
    knownIssues: ctx.knownIssues,
    runUrl,
  });
}

/**
 * Decides the night (nightly.ts, with the open issues and the re-runs) and syncs one issue per
 * action. An action whose sync fails is logged and the others still run; the first error is
 * rethrown at the end so the step fails and nothing is silently dropped.
 */
export async function syncNightlyIssues(o: NightlyReportOptions): Promise<NightlyReportResult> {
  const [tonight, confirmations, open, config, knownIssues] = await Promise.all([
    recordsUnder(o.tonight),
    o.confirmations ? recordsUnder(o.confirmations) : Promise.resolve([]),
    openRegressions(o.gh, o.owner, o.repo),
    loadCompareConfig(o.compareConfigFile),
    loadKnownIssues(o.knownIssuesFile),
  ]);
  // Only the cells that ran tonight, or have an issue open, are decided: their nightly series is all
  // that is read, one cell at a time, so a long history is not held in memory.
  const cells = new Set([...tonight.map((r) => r.cell.id), ...open.map((x) => x.cell)]);
  const history = await nightlySeries(openStoreOrFolder(o.history), cells);
  const decision = nightly({ history, tonight, confirmations, open, config });
  for (const n of decision.notes) o.logger.info(n);
  const issues: IssueOutcome[] = [];
  let firstError: unknown = null;
  for (const a of decision.actions) {
    try {
      const r = render(a, {
        history,
        tonight,
        confirmations,
        knownIssues,
        runUrl: o.runUrl ?? null,
        dashboardUrl: o.dashboardUrl ?? null,
      });
      const result = await syncRegressionIssue(o.gh, {
        owner: o.owner,
        repo: o.repo,
        marker: regressionMarker(a.cell, a.metric),
        title: r.title,
        body: r.body,
        labels: r.labels,
        state: a.state,
        ...(r.note === undefined ? {} : { note: r.note }),
        logger: o.logger,
      });
      o.logger.info(
        `${a.cell} ${a.metric}: ${a.state} → issue ${result.action}${result.number ? ` #${result.number}` : ""}`,
      );
      issues.push({
        cell: a.cell,
        metric: a.metric,
        kind: a.kind,
        state: a.state,
        action: result.action,
        number: result.number ?? null,
      });
    } catch (err) {
      o.logger.error(`${a.cell} ${a.metric}: could not sync its issue: ${(err as Error).message}`);
      firstError ??= err;
    }
  }
  if (firstError !== null) throw firstError;
  return { decision, issues };
}
