/**
 * farm-report's intake of a pull request's results artefact.
 *
 * The artefact is hostile data: `pull_request` runs the PR's own copy of farm-pr.yml, so a PR can
 * upload any bytes under the expected name. Everything here is checked against facts farm-report
 * got from GitHub itself (the `workflow_run` event), never against the artefact's own claims:
 *
 * - the walk is bounded (entries, files, bytes per file and in total — {@link ARTIFACT_LIMITS}) and
 *   never follows a link: symlinks and hard links are refused, every file is opened `O_NOFOLLOW`,
 *   and its real path must lie inside the artefact folder;
 * - only the layout below is read; any other file or folder is refused unread (and listed);
 * - `pr.json` must name a positive integer PR that the trusted event names (or that the GitHub API
 *   confirms has this head: fork PRs, see {@link TrustedRun}), and the trusted head SHA;
 * - every run record and comparison must pass its schema; a head record must carry the head SHA.
 *
 * Nothing is dropped silently: each refused file is in `rejected` with its reason, and a problem
 * that makes the whole artefact untrustworthy (no valid pr.json, limits blown) gives `ok: false`
 * with a reason the report can put in a failing check run on the trusted head SHA.
 *
 * Artefact layout (written by farm-pr.yml's `results` job):
 *   pr.json                 {"schema": "pte-farm/pr-results@1", "pr": 12, "head_sha": "<40 hex>"}
 *   records/<name>.json     run records (`pte-farm/run@1`): head records, and base records if any
 *   comparisons/<name>.json compare outputs (`pte-farm/compare@1`)
 */
import { lstat, realpath } from "node:fs/promises";
import type { Comparison } from "../compare/verdicts.ts";
import {
  arr,
  type Check,
  closed,
  literal,
  optional,
  parse,
  refine,
  ValidationError,
  withJsonSchema,
} from "../core/validate.ts";
import { sampleProblem } from "../records/read.ts";
import { comparison as comparisonSchema } from "../schemas/comparison.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";
import {
  ARTIFACT_LIMITS,
  type ArtifactLimits,
  type Found,
  LimitError,
  parseHostileJson,
  type Rejected,
  readBounded,
  shownPath,
  Walk,
} from "./hostile-files.ts";

export const PR_RESULTS_SCHEMA = "pte-farm/pr-results@1";

/** What farm-report knows from GitHub, not from the artefact. */
export interface TrustedRun {
  /** `github.event.workflow_run.head_sha`. */
  headSha: string;
  /**
   * `github.event.workflow_run.pull_requests[*].number`. GitHub leaves this list empty when the
   * PR comes from a fork, which is why {@link verifyPullRequest} exists.
   */
  pullRequests: readonly number[];
  /**
   * Asked only when the claimed number is not in `pullRequests`: true when the API says that PR's
   * head is this run's head (see {@link pullRequestMatchesRun}). Absent: such a claim is refused.
   */
  verifyPullRequest?: (pr: number) => Promise<boolean>;
}

export interface Ingested {
  ok: true;
  pr: number;
  headSha: string;
  /** The cells the plan sent to devices (pr.json's `expected_cells`), or null when pr.json has none. */
  expectedCells: string[] | null;
  records: { file: string; record: RunRecord }[];
  comparisons: { file: string; comparison: Comparison }[];
  rejected: Rejected[];
}

export interface Refused {
  ok: false;
  /** For people (a check run's summary): why nothing from this artefact is reported. */
  reason: string;
  rejected: Rejected[];
}

const SHA = /^[0-9a-f]{40}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,199}\.json$/;
const FOLDERS = { records: "records", comparisons: "comparisons" } as const;
type Folder = keyof typeof FOLDERS;

/** A PR number: a JSON integer ≥ 1 (not a string, not 1.5, not 1e300). */
const prNumber: Check<number> = withJsonSchema(
  (v, p) => {
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 1) return v;
    throw new ValidationError("", p, `expected a positive integer, got ${JSON.stringify(v)?.slice(0, 40)}`);
  },
  { type: "integer", minimum: 1 },
);

const sha: Check<string> = withJsonSchema(
  (v, p) => {
    if (typeof v === "string" && SHA.test(v)) return v;
    throw new ValidationError("", p, `expected a 40-hex commit SHA, got ${JSON.stringify(v)?.slice(0, 60)}`);
  },
  { type: "string", pattern: SHA.source },
);

/** A cell id as the plan writes it (`model/recipe/backend/device@toolchain`), bounded. */
const CELL_ID =
  /^[A-Za-z0-9._-]{1,100}\/[A-Za-z0-9._-]{1,100}\/[A-Za-z0-9._-]{1,100}\/[A-Za-z0-9._-]{1,100}@[A-Za-z0-9._-]{1,100}$/;
const cellId: Check<string> = withJsonSchema(
  (v, p) => {
    if (typeof v === "string" && CELL_ID.test(v)) return v;
    throw new ValidationError(
      "",
      p,
      `expected a cell id model/recipe/backend/device@toolchain, got ${JSON.stringify(v)?.slice(0, 80)}`,
    );
  },
  { type: "string", pattern: CELL_ID.source },
);

/** At most this many expected cells: more than any plan's device list (MAX_SHARDS × 256). */
export const MAX_EXPECTED_CELLS = 4096;

export const prResults = closed({
  schema: literal(PR_RESULTS_SCHEMA),
  pr: prNumber,
  head_sha: sha,
  /** The plan's device cells: the report names those that sent no record instead of leaving them out. */
  expected_cells: optional(
    refine(arr(cellId), (cells) =>
      cells.length > MAX_EXPECTED_CELLS
        ? { path: [], message: `${cells.length} cells; at most ${MAX_EXPECTED_CELLS}` }
        : null,
    ),
  ),
});

async function walk(root: string, limits: ArtifactLimits): Promise<Walk> {
  const w = new Walk(root, limits);
  await w.folder("", async (name, rel, abs) => {
    const info = await lstat(abs);
    if (info.isSymbolicLink()) return w.reject(rel, "a symbolic link (links are never followed)");
    if (name === "pr.json") return w.file(rel, abs);
    if (Object.hasOwn(FOLDERS, name)) {
      if (!info.isDirectory()) return w.reject(rel, "expected a folder");
      return w.folder(rel, async (child, childRel, childAbs) => {
        const childInfo = await lstat(childAbs);
        if (childInfo.isSymbolicLink())
          return w.reject(childRel, "a symbolic link (links are never followed)");
        if (childInfo.isDirectory()) return w.reject(childRel, "unexpected folder (not read)");
        if (!NAME.test(child)) {
          return w.reject(childRel, "unexpected file name (expected letters, digits, ._@+=- and .json)");
        }
        return w.file(childRel, childAbs);
      });
    }
    return w.reject(
      rel,
      `unexpected ${info.isDirectory() ? "folder" : "file"} (not read); the artefact holds pr.json, records/*.json and comparisons/*.json`,
    );
  });
  return w;
}

function problem(err: unknown): string {
  if (err instanceof ValidationError) return err.message;
  if (err instanceof SyntaxError) return `not valid JSON (${err.message})`;
  if (err instanceof RangeError) return "not valid JSON (nested too deeply to read)";
  if (err instanceof TypeError && /decode|encoded/i.test(err.message)) return "not valid UTF-8";
  return (err as Error).message;
}

async function claimedPr(
  w: Walk,
  trusted: TrustedRun,
  read: (f: Found) => Promise<string>,
): Promise<{ pr: number; expected: string[] | null } | { refused: string }> {
  const found = w.files.find((f) => f.rel === "pr.json");
  if (found === undefined) return { refused: "pr.json is missing or was refused, so the PR is unknown" };
  let claim: { pr: number; head_sha: string; expected_cells?: string[] | undefined };
  try {
    claim = parse(prResults, parseHostileJson(await read(found)), "pr.json");
  } catch (err) {
    w.reject("pr.json", problem(err));
    return { refused: `pr.json is not valid: ${problem(err)}` };
  }
  if (claim.head_sha !== trusted.headSha) {
    w.reject("pr.json", `head_sha ${claim.head_sha} is not the run's head ${trusted.headSha}`);
    return { refused: `pr.json names head ${claim.head_sha}, but the run built ${trusted.headSha}` };
  }
  const known =
    trusted.pullRequests.includes(claim.pr) ||
    (trusted.verifyPullRequest !== undefined && (await trusted.verifyPullRequest(claim.pr)));
  if (!known) {
    w.reject("pr.json", `PR #${claim.pr} is not a pull request of this run`);
    return {
      refused: `pr.json names PR #${claim.pr}, which is not a pull request whose head is ${trusted.headSha}`,
    };
  }
  return {
    pr: claim.pr,
    expected: claim.expected_cells === undefined ? null : [...new Set(claim.expected_cells)],
  };
}

/**
 * Reads the artefact folder `dir` (downloaded by actions/download-artifact) against `trusted`.
 * Throws only for our own problems (an unreadable folder); hostile content never throws.
 */
export async function ingestArtifact(
  dir: string,
  trusted: TrustedRun,
  limits: ArtifactLimits = ARTIFACT_LIMITS,
): Promise<Ingested | Refused> {
  if (!SHA.test(trusted.headSha)) throw new Error(`bug: trusted head SHA ${trusted.headSha} is not 40 hex`);
  const info = await lstat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) {
    return { ok: false, reason: "the run uploaded no results artefact", rejected: [] };
  }
  const root = await realpath(dir);
  let w: Walk;
  try {
    w = await walk(root, limits);
  } catch (err) {
    if (!(err instanceof LimitError)) throw err;
    return { ok: false, reason: `the artefact is over its limits: ${err.message}`, rejected: [] };
  }
  const read = (f: Found) => readBounded(f.abs, limits.maxFileBytes);
  const claim = await claimedPr(w, trusted, read);
  if ("refused" in claim) return { ok: false, reason: claim.refused, rejected: w.rejected };

  const records: Ingested["records"] = [];
  const comparisons: Ingested["comparisons"] = [];
  const headCells = new Set<string>();
  const byPath = (a: { rel: string }, b: { rel: string }) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);
  for (const f of [...w.files].sort(byPath)) {
    if (f.rel === "pr.json") continue;
    const folder = f.rel.split("/")[0] as Folder;
    try {
      const value = parseHostileJson(await read(f));
      if (folder === "records") {
        const bad = sampleProblem(value);
        if (bad !== null) throw new Error(bad);
        const record = parse(runRecord, value, f.rel);
        if (record.role === "head") {
          if (record.git_sha !== trusted.headSha) {
            throw new Error(
              `a head record of commit ${record.git_sha}, not the run's head ${trusted.headSha}`,
            );
          }
          if (headCells.has(record.cell.id))
            throw new Error(`a second head record for cell ${record.cell.id}`);
          headCells.add(record.cell.id);
        }
        records.push({ file: shownPath(f.rel), record });
      } else {
        const comparison = parse(comparisonSchema, value, f.rel);
        if (comparison.head.git_sha !== trusted.headSha) {
          throw new Error(
            `a comparison of head ${comparison.head.git_sha}, not the run's head ${trusted.headSha}`,
          );
        }
        comparisons.push({ file: shownPath(f.rel), comparison });
      }
    } catch (err) {
      w.reject(f.rel, problem(err));
    }
  }
  const rejected = [...w.rejected].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return {
    ok: true,
    pr: claim.pr,
    headSha: trusted.headSha,
    expectedCells: claim.expected,
    records,
    comparisons,
    rejected,
  };
}

/** The parts of a `pulls.get` answer and of the `workflow_run` event that {@link pullRequestMatchesRun} reads. */
export interface PullFacts {
  number: number;
  head: { sha: string; repo: { full_name: string } | null };
  base: { repo: { full_name: string } };
}
export interface RunFacts {
  head_sha: string;
  head_repository: { full_name: string } | null;
  repository: { full_name: string };
}

/**
 * For fork PRs (absent from `workflow_run.pull_requests`): whether the PR that the API returned for
 * the claimed number is the one this run built. Returns null when it is, else why not.
 */
export function pullRequestMatchesRun(pull: PullFacts, run: RunFacts): string | null {
  if (pull.base.repo.full_name !== run.repository.full_name) {
    return `PR #${pull.number} targets ${pull.base.repo.full_name}, not ${run.repository.full_name}`;
  }
  if (pull.head.sha !== run.head_sha) {
    return `PR #${pull.number}'s head is ${pull.head.sha}, not the run's ${run.head_sha}`;
  }
  const headRepo = pull.head.repo?.full_name ?? null;
  if (headRepo === null || headRepo !== run.head_repository?.full_name) {
    return `PR #${pull.number} comes from ${headRepo ?? "a deleted repository"}, not ${run.head_repository?.full_name ?? "(unknown)"}`;
  }
  return null;
}
