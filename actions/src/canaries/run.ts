/**
 * `pte-farm canaries`: every canary of the matrix on every toolchain asked for, through the same
 * cell path as `pte-farm run`, and what each says about its known issue (canaries/verdicts.ts):
 * `canaries.json` (the results and proposals) and `canaries.md` (for a person or an issue body).
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { KnownIssue } from "../../../matrix/known-issues.ts";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath, KNOWN_ISSUES_FILE, REPO_ROOT } from "../core/paths.ts";
import { parseJson } from "../core/validate.ts";
import { runCommand } from "../pipeline/local-run.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { stageResult } from "../schemas/stage.ts";
import type { Lock } from "../toolchain/lock.ts";
import { type CanaryResult, canaryResult, catalogueDiff, proposedRanges } from "./verdicts.ts";

export interface CanaryProposal {
  knownIssue: string;
  ranges: Record<string, string>;
  diff: string;
}

export interface CanaryReport {
  results: CanaryResult[];
  proposals: CanaryProposal[];
  outDir: string;
}

export interface CanaryOptions {
  matrix: string;
  toolchains?: string[];
  out: string;
  python: string;
  knownIssues?: string;
  locks?: ReadonlyMap<string, Lock>;
  cacheDir: string;
  logger: Logger;
}

export async function runCanaries(opts: CanaryOptions): Promise<CanaryReport> {
  const farm = await loadFarm(opts.matrix);
  const catalogueFile = opts.knownIssues ?? KNOWN_ISSUES_FILE;
  const issues = new Map(
    (await loadKnownIssues(catalogueFile)).map((i) => [i.id, i] as [string, KnownIssue]),
  );
  if (farm.canaries.length === 0)
    throw new ConfigurationError(`${displayPath(opts.matrix)} defines no canaries`);
  const toolchains = opts.toolchains ?? [...farm.toolchains.keys()];
  for (const t of toolchains) {
    if (!farm.toolchains.has(t)) {
      throw new ConfigurationError(
        `--toolchains ${t}: not a toolchain of ${displayPath(opts.matrix)} (known: ${[...farm.toolchains.keys()].join(", ")})`,
      );
    }
  }
  const ids = toolchains.flatMap((t) => farm.canaries.map((c) => `${c.cell}@${t}`));
  const outcome = await runCommand({
    matrix: opts.matrix,
    cells: ids.join(","),
    runExcluded: true,
    ...(opts.out === "" ? {} : { out: opts.out }),
    reps: 1,
    warmup: 0,
    cache: true,
    cacheDir: opts.cacheDir,
    timeoutS: 1800,
    role: "nightly",
    python: opts.python,
    knownIssues: catalogueFile,
    ...(opts.locks === undefined ? {} : { locks: opts.locks }),
    logger: opts.logger,
  });
  const results: CanaryResult[] = [];
  for (const record of outcome.records) {
    const canary = farm.canaries.find((c) => record.cell.id.startsWith(`${c.cell}@`));
    const issue = canary === undefined ? undefined : issues.get(canary.knownIssue);
    if (canary === undefined || issue === undefined) continue;
    results.push(canaryResult(record, issue, canary.stage, await lastStageToolchain(outcome.outDir, record)));
  }
  const text = await readFile(catalogueFile, "utf8");
  const rel = path.relative(REPO_ROOT, catalogueFile);
  const proposals: CanaryProposal[] = [];
  for (const r of results) {
    const issue = issues.get(r.knownIssue) as KnownIssue;
    const ranges = proposedRanges(issue, r);
    if (ranges === null || proposals.some((p) => p.knownIssue === r.knownIssue)) continue;
    proposals.push({
      knownIssue: r.knownIssue,
      ranges,
      diff: catalogueDiff(rel, text, r.knownIssue, ranges),
    });
  }
  const report = { results, proposals, outDir: outcome.outDir };
  await writeFile(
    path.join(outcome.outDir, "canaries.json"),
    `${JSON.stringify({ schema: "pte-farm/canaries@1", results, proposals }, null, 2)}\n`,
  );
  await writeFile(path.join(outcome.outDir, "canaries.md"), renderCanaries(report));
  return report;
}

/** The toolchain the record's last stage reported in its result.json (null when it wrote none). */
async function lastStageToolchain(
  outDir: string,
  record: RunRecord,
): Promise<Record<string, string | null> | null> {
  const last = record.stages[record.stages.length - 1];
  if (last === undefined) return null;
  const text = await readFile(path.join(outDir, last.dir, "result.json"), "utf8").catch(() => null);
  if (text === null) return null;
  try {
    return parseJson(stageResult, text, "result.json").toolchain;
  } catch {
    return null; // a broken result.json: the summary names the toolchain instead of versions
  }
}

const MARK: Record<CanaryResult["state"], string> = {
  reproduces: "reproduces",
  "reproduces-outside-range": "reproduces (outside its range)",
  "no-longer-reproduces": "**no longer reproduces**",
  "fails-differently": "**fails differently**",
  infrastructure: "no verdict (infrastructure)",
};

export function renderCanaries(report: Pick<CanaryReport, "results" | "proposals">): string {
  const rows = report.results.map(
    (r) => `| ${r.knownIssue} | \`${r.cell}\` | ${MARK[r.state]} | ${r.summary.replaceAll("|", "\\|")} |`,
  );
  const lines = [
    "## Canaries",
    "",
    "| known issue | cell | state | what it means |",
    "|---|---|---|---|",
    ...rows,
    "",
  ];
  for (const p of report.proposals) {
    lines.push(
      `Proposed \`applies_to\` for **${p.knownIssue}**:`,
      "",
      "```diff",
      p.diff.trimEnd(),
      "```",
      "",
    );
  }
  return `${lines.join("\n")}\n`;
}
