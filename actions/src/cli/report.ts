/**
 * `pte-farm report` (DESIGN.md's CLI table): run records in, the bench report out, as markdown
 * (the job-summary table, or the size-limited PR comment) or JSON. Reads and validates files,
 * pairs each head record with its cell's base, compares them with compareRecords, and hands the
 * rest to the pure renderers in `reports/`. A folder written by `pte-farm run --base-out` holds
 * both sides (`run.json` role head, `run.base.json` role base), so `pte-farm report out/latest`
 * is enough there.
 */
import { open } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import {
  HEADLINE_METRIC,
  metricMedian,
  outcomeOf,
  type SummaryCounts,
  summaryCounts,
  type TrendPoint,
  usableComparison,
} from "../../../reports/cell-report.ts";
import { type ReportInput, renderJobSummary, renderPrComment } from "../../../reports/pr-comment.ts";
import { loadCompareConfig } from "../compare/config.ts";
import { cellSeries } from "../compare/detect.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath, KNOWN_ISSUES_FILE } from "../core/paths.ts";
import { openStore } from "../history/open.ts";
import { collect } from "../history/store.ts";
import { onePerCell, pairCells } from "../publish/cells.ts";
import { RUN_RECORD_FILE, readRunRecord, recordFiles } from "../records/read.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { usageErrors } from "./args.ts";

export const REPORT_SCHEMA = "pte-farm/report@1";

export interface ReportCommandOptions {
  /** Run record files, or folders searched for `*.json`. Records with role `base` are bases. */
  records: string[];
  /** More base records, whatever their role (an earlier run's output folder). */
  base?: string[];
  format: "markdown" | "json";
  /** For markdown: the job-summary flavour (default) or the PR comment, cut to GitHub's limit. */
  style?: "summary" | "pr-comment";
  /** A history store (`dir:` or `git:`) for each cell's recent nightly trend. */
  history?: string;
  /** Compare settings (default matrix/compare.yml). */
  config?: string;
  /** Known-issue catalogue (default matrix/known-issues.yml). */
  knownIssues?: string;
  runUrl?: string;
  headSha?: string;
  acrossToolchains?: boolean;
  logger: Logger;
}

export interface ReportResult {
  input: ReportInput;
  counts: SummaryCounts;
  output: string;
}

/** How much of a failed stage's log is read for its tail. */
const LOG_READ_BYTES = 64 * 1024;
const TREND_NIGHTS = 20;

/** The last bytes of a log file, or null when it is not here (a CI runner's path, say). */
async function readLogTail(file: string | null | undefined): Promise<string | null> {
  if (!file) return null;
  try {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, LOG_READ_BYTES);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, size - length);
      return buf.toString("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

function jsonReport(input: ReportInput, counts: SummaryCounts) {
  return {
    schema: REPORT_SCHEMA,
    summary: counts,
    cells: input.cells.map((c) => ({
      cell: c.head.cell.id,
      status: c.head.status,
      outcome: outcomeOf(c),
      gate: c.head.gate?.verdict ?? null,
      first_divergence: c.head.gate?.first_divergence ?? null,
      decode_tokens_per_sec: {
        base: c.base == null ? null : metricMedian(c.base, HEADLINE_METRIC),
        head: metricMedian(c.head, HEADLINE_METRIC),
      },
      comparison: usableComparison(c),
      failure: c.head.failure,
      trend: c.trend ?? [],
    })),
    skipped: input.skipped ?? [],
  };
}

/** Builds, prints and returns the report; main.ts picks the exit code with {@link reportExitCode}. */
export async function reportCommand(opts: ReportCommandOptions): Promise<ReportResult> {
  if (opts.records.length === 0)
    throw new ConfigurationError("report: pass at least one run record or folder");
  const read = async (files: string[]) =>
    Promise.all(files.map(async (file) => ({ file, record: await readRunRecord(file) })));
  const given = await read(await recordFiles(opts.records, { flag: "report", names: RUN_RECORD_FILE }));
  const extraBases = await read(
    await recordFiles(opts.base ?? [], { flag: "--base", names: RUN_RECORD_FILE }),
  );
  const shown = (e: { file: string; record: RunRecord }) => ({ file: displayPath(e.file), record: e.record });
  const heads = onePerCell(given.filter((e) => e.record.role !== "base").map(shown), "head");
  const bases = onePerCell(
    [...given.filter((e) => e.record.role === "base"), ...extraBases].map(shown),
    "base",
  );

  const [config, knownIssues] = await Promise.all([
    loadCompareConfig(opts.config),
    loadKnownIssues(opts.knownIssues ?? KNOWN_ISSUES_FILE),
  ]);
  const paired = pairCells(heads, bases, {
    config,
    acrossToolchains: opts.acrossToolchains ?? false,
    strict: true,
  });
  for (const note of paired.notes) opts.logger.warn(note);
  const store = opts.history === undefined ? null : openStore(opts.history);
  const cells = paired.cells;
  for (const cell of cells) {
    const id = cell.head.cell.id;
    if (store !== null) {
      const nightly = await collect(store, { cell: id, role: "nightly" });
      cell.trend = cellSeries(nightly, id, HEADLINE_METRIC)
        .slice(-TREND_NIGHTS)
        .map((p): TrendPoint => ({ label: p.started_at.slice(5, 10), value: p.value }));
    }
    if (cell.head.status !== "pass") {
      cell.logTail = await readLogTail(cell.head.stages.find((s) => s.outcome !== "ok")?.log);
    }
  }

  const input: ReportInput = {
    cells,
    knownIssues,
    runUrl: opts.runUrl ?? null,
    headSha: opts.headSha ?? cells[0]?.head.git_sha ?? null,
    baseSha: cells.find((c) => c.base != null)?.base?.git_sha ?? null,
  };
  const counts = summaryCounts(cells);
  const output =
    opts.format === "json"
      ? JSON.stringify(jsonReport(input, counts), null, 2)
      : opts.style === "pr-comment"
        ? renderPrComment(input)
        : renderJobSummary(input);
  opts.logger.info(output);
  return { input, counts, output };
}

/**
 * The report's exit code, in the order `pte-farm run` uses: infrastructure (3) before failures
 * (1), since rerunning is the first thing to do; a regression is a failure, inconclusive is not.
 */
export function reportExitCode(counts: SummaryCounts): ExitCode {
  if (counts.infraErrors > 0) return EXIT.infra;
  if (counts.gatesFailed + counts.stageFailures + counts.regressions > 0) return EXIT.failed;
  return EXIT.ok;
}

export const REPORT_USAGE = `pte-farm report RECORD|DIR... [options]
  --base RECORD|DIR       more base records (any role), e.g. an earlier run's output folder
  --format markdown|json  (default markdown)
  --style summary|pr-comment   the job-summary table (default) or the PR comment, cut to GitHub's limit
  --history STORE         dir:PATH, git:REPO[#branch] or postgres[:ENV]: each cell's recent nightly trend
  --config FILE           minimum effects (default: matrix/compare.yml)
  --run-url URL           linked as the full report when the comment is shortened
  --head-sha SHA          the commit reported on (default: the head records')
  --across-toolchains     compare base and head of different toolchains
  exit 3 when a cell hit infrastructure, 1 on a failed gate, stage or a regression, else 0`;

/** `pte-farm report …`: argv in, exit code out (main.ts turns thrown errors into exit codes). */
export async function reportCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values, positionals } = usageErrors("report", () => parseReportArgs(argv));
  if (values.help) {
    logger.info(REPORT_USAGE);
    return EXIT.ok;
  }
  const format = values.format ?? "markdown";
  if (format !== "markdown" && format !== "json") {
    throw new ConfigurationError(`--format ${format}: expected one of markdown, json`);
  }
  const style = values.style ?? "summary";
  if (style !== "summary" && style !== "pr-comment") {
    throw new ConfigurationError(`--style ${style}: expected one of summary, pr-comment`);
  }
  const result = await reportCommand({
    records: positionals,
    base: values.base ?? [],
    format,
    style,
    ...(values.history === undefined ? {} : { history: values.history }),
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values["run-url"] === undefined ? {} : { runUrl: values["run-url"] }),
    ...(values["head-sha"] === undefined ? {} : { headSha: values["head-sha"] }),
    acrossToolchains: values["across-toolchains"] ?? false,
    logger,
  });
  return reportExitCode(result.counts);
}

function parseReportArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      base: { type: "string", multiple: true },
      format: { type: "string" },
      style: { type: "string" },
      history: { type: "string" },
      config: { type: "string" },
      "run-url": { type: "string" },
      "head-sha": { type: "string" },
      "across-toolchains": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
