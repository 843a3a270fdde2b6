/**
 * The search of a bisection, independent of what a step builds and runs: which package moved the
 * cell from good to bad, and which of its releases first did. Each step is good, bad, skip (does
 * not install or load, or fails differently from the failure being bisected) or retry
 * (infrastructure, bounded); when infrastructure dominates the search stops as "inconclusive:
 * infrastructure", because an answer built on flaky steps would name the wrong release
 * (syzkaller's rule). A skipped version is stepped around (mozregression, git bisect skip), so the
 * answer may be a range.
 */
import { normalize } from "../core/requirements.ts";
import type { LockChange } from "../toolchain/lock.ts";

export type StepVerdict = "good" | "bad" | "skip" | "retry";

export interface StepResult {
  verdict: StepVerdict;
  /** Why, in one line (the stage and signature, "does not install: …", the infrastructure error). */
  reason: string;
}

export type SearchOutcome =
  | {
      kind: "found";
      package: string;
      lastGood: string;
      firstBad: string;
      /** Versions between lastGood and firstBad that could not be tested: the first bad is one of them or firstBad. */
      untestable: string[];
    }
  | { kind: "interaction"; packages: string[] }
  | { kind: "inconclusive-infrastructure"; detail: string };

export interface SearchHooks {
  /** Builds and runs the cell with `name` moved to `version` (others held at good). */
  step(name: string, version: string): Promise<StepResult>;
  /** The package's released versions, in the index's order (newest first). */
  versions(name: string): Promise<string[]>;
}

export interface SearchLimits {
  /** Attempts of one step before its infrastructure failure counts against the search. */
  attempts: number;
  /** Infrastructure failures (after attempts) that stop the search. */
  maxInfra: number;
}

/** Upstream packages first: the ones whose releases break models; the rest by name. */
const FIRST = ["executorch", "torchao", "transformers", "torch", "tokenizers"];

export function orderChanges(changes: readonly LockChange[]): LockChange[] {
  const rank = (n: string) => {
    const i = FIRST.indexOf(normalize(n));
    return i === -1 ? FIRST.length : i;
  };
  return [...changes].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** The index's version string for `v` (a lock may hold "2.13.0+cpu" where the index lists "2.13.0"). */
function indexOf(list: readonly string[], v: string): number {
  const i = list.indexOf(v);
  return i !== -1 ? i : list.indexOf(v.split("+")[0] ?? v);
}

/** Released versions strictly between `from` and `to`, ordered from `from` towards `to`. */
export function between(list: readonly string[], from: string, to: string): string[] | null {
  const a = indexOf(list, from);
  const b = indexOf(list, to);
  if (a === -1 || b === -1) return null;
  return a < b ? list.slice(a + 1, b) : list.slice(b + 1, a).reverse();
}

class InfraAbort extends Error {}

export class Search {
  private infra = 0;
  private readonly hooks: SearchHooks;
  private readonly limits: SearchLimits;
  constructor(hooks: SearchHooks, limits: SearchLimits) {
    this.hooks = hooks;
    this.limits = limits;
  }

  /** One step with bounded retries; an infrastructure failure that outlasts them counts, and enough of them abort. */
  private async run(name: string, version: string): Promise<StepResult> {
    let last: StepResult = { verdict: "retry", reason: "not run" };
    for (let attempt = 1; attempt <= this.limits.attempts; attempt++) {
      last = await this.hooks.step(name, version);
      if (last.verdict !== "retry") return last;
    }
    this.infra++;
    if (this.infra >= this.limits.maxInfra) throw new InfraAbort(last.reason);
    return {
      verdict: "skip",
      reason: `infrastructure after ${this.limits.attempts} attempts: ${last.reason}`,
    };
  }

  /** Finds the package (trying each change alone, upstream first) and then its first bad release. */
  async find(changes: readonly LockChange[]): Promise<SearchOutcome> {
    try {
      const ordered = orderChanges(changes);
      let culprit: LockChange | null = ordered.length === 1 ? (ordered[0] as LockChange) : null;
      for (const c of culprit === null ? ordered : []) {
        if (c.to === null) continue;
        const r = await this.run(c.name, c.to);
        if (r.verdict === "bad") {
          culprit = c;
          break;
        }
      }
      if (culprit === null) return { kind: "interaction", packages: ordered.map((c) => c.name) };
      return await this.versionsOf(culprit);
    } catch (err) {
      if (err instanceof InfraAbort) return { kind: "inconclusive-infrastructure", detail: err.message };
      throw err;
    }
  }

  private async versionsOf(c: LockChange): Promise<SearchOutcome> {
    const from = c.from;
    const to = c.to;
    if (from === null || to === null) {
      return {
        kind: "found",
        package: c.name,
        lastGood: from ?? "(absent)",
        firstBad: to ?? "(absent)",
        untestable: [],
      };
    }
    const list = between(await this.hooks.versions(c.name), from, to) ?? [];
    // lo: the newest known good index (-1: the good lock); hi: the oldest known bad (list.length: the bad lock).
    let lo = -1;
    let hi = list.length;
    const skipped = new Set<number>();
    while (hi - lo > 1) {
      const open = [];
      for (let i = lo + 1; i < hi; i++) if (!skipped.has(i)) open.push(i);
      if (open.length === 0) break;
      const centre = (lo + hi) / 2;
      const mid = open.reduce((best, i) => (Math.abs(i - centre) < Math.abs(best - centre) ? i : best));
      const r = await this.run(c.name, list[mid] as string);
      if (r.verdict === "good") lo = mid;
      else if (r.verdict === "bad") hi = mid;
      else skipped.add(mid);
    }
    const untestable: string[] = [];
    for (let i = lo + 1; i < hi; i++) untestable.push(list[i] as string);
    return {
      kind: "found",
      package: c.name,
      lastGood: lo === -1 ? from : (list[lo] as string),
      firstBad: hi === list.length ? to : (list[hi] as string),
      untestable,
    };
  }
}
