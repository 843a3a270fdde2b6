/**
 * Triage of a failed stage: is it a known upstream issue (say which, and the workaround), or a new
 * failure (say where, with which toolchain, and how to reproduce it in one line)? Pure: the caller
 * reads the log and passes it in.
 */

import type { KnownIssue } from "../../../matrix/known-issues.ts";
import { isCancelledReason } from "../core/cancel.ts";
import { satisfies } from "../core/version-range.ts";
import type { StageName, ToolchainVersions } from "../schemas/stage.ts";

export interface FailureContext {
  stage: StageName;
  /** The stage's log (stderr and stdout), whole or a generous tail. */
  log: string;
  /** `result.json` error message, when the stage wrote one; matched like the log. */
  errorMessage?: string | null;
  /** The runner's classification of the step (a cancelled one is not triaged as a failure). */
  reason?: string | null;
  /** Versions on the machine where the stage ran. */
  toolchain: ToolchainVersions | null;
  /** The toolchain name from the cell (`stable`). */
  toolchainName: string;
  /** Versions the artefact was built with (from the manifest), for build/device mismatch issues. */
  buildToolchain?: ToolchainVersions | null;
  /** `<os>-<arch>` of the machine where the stage ran, e.g. `linux-x64`, `linux-arm64`. */
  platform: string;
  /** The cell's recipe as handed to the stages. */
  recipe: Record<string, unknown>;
}

export type Triage =
  | { kind: "known"; issue: KnownIssue; summary: string }
  /** The log matches, but the toolchain is outside the versions the issue was seen with. */
  | { kind: "resembles"; issue: KnownIssue; summary: string }
  | { kind: "new"; issue: null; summary: string }
  | { kind: "cancelled"; issue: null; summary: string };

/** The longest log tail searched; signatures sit near the end, and regexes over GBs would stall. */
const MAX_LOG_CHARS = 4 * 1024 * 1024;

const MAIN_PACKAGES = ["torch", "executorch", "torchao", "transformers"];

/** "stable (torch 2.13.0, executorch 1.4.1, ...)". */
export function describeToolchain(name: string, versions: ToolchainVersions | null | undefined): string {
  if (versions === null || versions === undefined) return `${name} (versions unknown)`;
  const shown = MAIN_PACKAGES.filter((p) => versions[p]).map((p) => `${p} ${versions[p]}`);
  return shown.length > 0 ? `${name} (${shown.join(", ")})` : name;
}

function conditionsHold(issue: KnownIssue, ctx: FailureContext): boolean {
  const when = issue.when;
  if (when === undefined) return true;
  if (when.platform !== undefined && !when.platform.includes(ctx.platform)) return false;
  if (when.toolchain_mismatch !== undefined) {
    const build = ctx.buildToolchain;
    const device = ctx.toolchain;
    if (build == null || device == null) return false;
    const differs = when.toolchain_mismatch.some(
      (p) => build[p] != null && device[p] != null && build[p] !== device[p],
    );
    if (!differs) return false;
  }
  if (when.recipe !== undefined) {
    for (const [key, value] of Object.entries(when.recipe)) if (ctx.recipe[key] !== value) return false;
  }
  return true;
}

/** Packages whose installed version falls outside the issue's range (unknown versions do not count). */
function outOfRange(issue: KnownIssue, ctx: FailureContext): string[] {
  const out: string[] = [];
  for (const [pkg, range] of Object.entries(issue.appliesTo)) {
    const version = ctx.toolchain?.[pkg];
    if (version != null && !satisfies(version, range)) out.push(`${pkg} ${version} (seen with ${range})`);
  }
  return out;
}

/**
 * Matches a failure against the catalogue. An entry with `when` conditions that hold beats one
 * without (issue 7, "BF16 baseline", is a special case of issue 6 with the same log); otherwise
 * catalogue order decides.
 */
export function triage(issues: readonly KnownIssue[], ctx: FailureContext): Triage {
  if (isCancelledReason(ctx.reason)) {
    return {
      kind: "cancelled",
      issue: null,
      summary: `cancelled, not a failure: stage ${ctx.stage} was stopped; nothing was learned about the model or the toolchain, run it again`,
    };
  }
  const text = `${ctx.log.slice(-MAX_LOG_CHARS)}\n${ctx.errorMessage ?? ""}`;
  const ordered = [
    ...issues.filter((i) => i.when !== undefined),
    ...issues.filter((i) => i.when === undefined),
  ];
  let resembles: Triage | null = null;
  for (const issue of ordered) {
    if (issue.stages.length > 0 && !issue.stages.includes(ctx.stage)) continue;
    if (!issue.signatures.some((re) => re.test(text))) continue;
    if (!conditionsHold(issue, ctx)) continue;
    const mismatched = outOfRange(issue, ctx);
    if (mismatched.length === 0) {
      return {
        kind: "known",
        issue,
        summary: `known issue ${issue.id}: ${issue.title} — ${issue.workaround}`,
      };
    }
    resembles ??= {
      kind: "resembles",
      issue,
      summary:
        `new failure in stage ${ctx.stage} with toolchain ${describeToolchain(ctx.toolchainName, ctx.toolchain)}; ` +
        `its log resembles known issue ${issue.id} (${issue.title}) but ${mismatched.join(", ")} — ` +
        `a regression or a different cause; that issue's workaround: ${issue.workaround}`,
    };
  }
  return (
    resembles ?? {
      kind: "new",
      issue: null,
      summary: `new failure in stage ${ctx.stage} with toolchain ${describeToolchain(ctx.toolchainName, ctx.toolchain)}`,
    }
  );
}

/** Shell-quotes one word for a copy-pasteable command line. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * One line that reproduces a failed stage by hand (from the repo root), and the farm command that
 * reruns the whole cell without the cache. It goes into run records, so it names no path of the
 * machine: the spec by its place in the run's output folder (`$OUT`), the interpreter as the
 * caller gives it (relative to the repo root when it is the project's).
 */
export function reproduceCommand(args: {
  python: string;
  stage: StageName;
  /** The stage's spec.json, relative to the run's output folder. */
  specInOut: string;
  cellId: string;
}): string {
  const stage = `PYTHONPATH=stages ${shellQuote(args.python)} -m pte_stages.${args.stage} --spec "$OUT"/${shellQuote(args.specInOut)} --out /tmp/pte-farm-repro`;
  const cell = `node actions/src/cli/pte-farm.ts run --no-cache --cells ${shellQuote(args.cellId)}`;
  return `${stage}   # OUT: the run's output folder; or: ${cell}`;
}
