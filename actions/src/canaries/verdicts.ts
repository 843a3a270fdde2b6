/**
 * What a canary's run record says about its known issue, and the catalogue change it proposes.
 * A canary reproduces when its cell fails at the expected stage with the known issue (triage
 * matched one of the issue's signatures). When it passes on a toolchain, the issue is possibly
 * fixed upstream: the `applies_to` ranges get an upper bound at the versions it passed with, shown
 * as a unified diff of matrix/known-issues.yml (jsdiff), edited in place at the ranges' source
 * positions (the yaml package's parse tree) so comments and layout stay as they are.
 */
import { createTwoFilesPatch } from "diff";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { KnownIssue } from "../../../matrix/known-issues.ts";
import { satisfies } from "../core/version-range.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export type CanaryState =
  | "reproduces"
  | "reproduces-outside-range"
  | "no-longer-reproduces"
  | "fails-differently"
  | "infrastructure";

export interface CanaryResult {
  knownIssue: string;
  cell: string;
  toolchain: string;
  lock: string | null;
  state: CanaryState;
  /** One line for a person: what it means. */
  summary: string;
  /** The versions of the issue's `applies_to` packages in this toolchain. */
  versions: Record<string, string>;
}

export function canaryState(record: RunRecord, issue: Pick<KnownIssue, "id">, stage: string): CanaryState {
  const f = record.failure;
  if (record.status === "pass") return "no-longer-reproduces";
  if (record.status !== "fail") return "infrastructure";
  if (f === null || f.stage !== stage) return "fails-differently";
  if (f.known_issue === issue.id) return "reproduces";
  if (f.triage.includes(`resembles known issue ${issue.id} `)) return "reproduces-outside-range";
  return "fails-differently";
}

/**
 * `stageToolchain`: the versions the last stage that ran reported (its result.json), for a cell
 * that failed before lower wrote the manifest the record's build toolchain comes from.
 */
export function canaryResult(
  record: RunRecord,
  issue: KnownIssue,
  stage: string,
  stageToolchain: Record<string, string | null> | null = null,
): CanaryResult {
  const state = canaryState(record, issue, stage);
  const built = record.toolchain.build ?? record.toolchain.device ?? stageToolchain ?? {};
  const versions: Record<string, string> = {};
  for (const pkg of Object.keys(issue.appliesTo)) {
    const v = built[pkg];
    if (typeof v === "string") versions[pkg] = v;
  }
  const withVersions =
    Object.entries(versions)
      .map(([p, v]) => `${p} ${v}`)
      .join(", ") || `toolchain ${record.toolchain.name}`;
  const summaries: Record<CanaryState, string> = {
    reproduces: `known issue ${issue.id} reproduces with ${withVersions}`,
    "reproduces-outside-range": `known issue ${issue.id} reproduces with ${withVersions}, outside its catalogued range — widen applies_to`,
    "no-longer-reproduces": `known issue ${issue.id} no longer reproduces with ${withVersions} — possibly fixed upstream`,
    "fails-differently": `the canary for ${issue.id} fails differently (${record.failure?.stage ?? "gate"}: ${record.failure?.message.split("\n")[0] ?? "gate failed"}) — a new failure to look at`,
    infrastructure: `the canary for ${issue.id} did not run (${record.failure?.message.split("\n")[0] ?? record.status}): no verdict`,
  };
  return {
    knownIssue: issue.id,
    cell: record.cell.id,
    toolchain: record.toolchain.name,
    lock: record.toolchain.lock ?? null,
    state,
    summary: summaries[state],
    versions,
  };
}

/** The range with an upper bound at `version` (exclusive); unchanged when it already excludes it. */
export function boundedRange(range: string, version: string): string {
  const plain = version.split("+")[0] ?? version;
  if (!satisfies(plain, range)) return range;
  const kept =
    range.trim() === "*"
      ? []
      : range
          .trim()
          .split(/\s+/)
          .filter((p) => !/^(<|<=|==)/.test(p));
  const lower = range
    .trim()
    .split(/\s+/)
    .find((p) => p.startsWith("=="));
  // "==X" pins one version: the issue stays at X and the new version is outside it already.
  if (lower !== undefined) return range;
  return [...kept, `<${plain}`].join(" ");
}

/** The range widened to admit `version` (the issue reproduced outside it): its bounds moved to include it. */
export function widenedRange(range: string, version: string): string {
  const plain = version.split("+")[0] ?? version;
  if (satisfies(plain, range)) return range;
  const parts = range
    .trim()
    .split(/\s+/)
    .map((p) => {
      const m = /^(>=|>|<=|<|==)(.+)$/.exec(p);
      if (m === null) return p;
      const op = m[1] as string;
      if ((op === ">=" || op === ">" || op === "==") && !satisfies(plain, p)) return `>=${plain}`;
      if ((op === "<" || op === "<=") && !satisfies(plain, p)) return null;
      return p;
    });
  const out = parts.filter((p): p is string => p !== null && p !== "");
  return out.length === 0 ? "*" : [...new Set(out)].join(" ");
}

/** New `applies_to` ranges for an issue, from what its canary saw; null when nothing changes. */
export function proposedRanges(issue: KnownIssue, result: CanaryResult): Record<string, string> | null {
  const next: Record<string, string> = {};
  let changed = false;
  for (const [pkg, range] of Object.entries(issue.appliesTo)) {
    const v = result.versions[pkg];
    let r = range;
    if (v !== undefined && result.state === "no-longer-reproduces") r = boundedRange(range, v);
    if (v !== undefined && result.state === "reproduces-outside-range") r = widenedRange(range, v);
    next[pkg] = r;
    changed ||= r !== range;
  }
  return changed ? next : null;
}

/** The catalogue's text with one issue's `applies_to` ranges replaced, everything else byte for byte. */
export function editAppliesTo(text: string, issueId: string, ranges: Record<string, string>): string {
  const doc = parseDocument(text, { keepSourceTokens: true });
  const issues = doc.get("issues", true);
  if (!isSeq(issues)) throw new Error("known-issue catalogue: no issues list");
  const entry = issues.items.find((it) => isMap(it) && it.get("id") === issueId);
  if (!isMap(entry)) throw new Error(`known-issue catalogue: no issue ${issueId}`);
  const applies = entry.get("applies_to", true);
  if (!isMap(applies)) throw new Error(`known-issue catalogue: issue ${issueId} has no applies_to`);
  const edits: { start: number; end: number; text: string }[] = [];
  for (const pair of applies.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const value = pair.value;
    const next = ranges[key];
    if (next === undefined || !isScalar(value) || value.range == null || value.value === next) continue;
    edits.push({ start: value.range[0], end: value.range[1], text: JSON.stringify(next) });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start))
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** A unified diff of the catalogue for the proposed ranges (empty when there is nothing to change). */
export function catalogueDiff(
  file: string,
  text: string,
  issueId: string,
  ranges: Record<string, string>,
): string {
  const next = editAppliesTo(text, issueId, ranges);
  if (next === text) return "";
  return createTwoFilesPatch(`a/${file}`, `b/${file}`, text, next, "", "", { context: 3 });
}
