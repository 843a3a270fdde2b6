/**
 * The order in which vitest hands test files to its two workers: longest first (LPT scheduling), so
 * the end-to-end files that take minutes do not start last and leave one worker idle. A file's
 * duration is vitest's own from the last run on this checkout (its results cache), else the one in
 * `tests/durations.json` (measured on a fresh clone, rewritten by `scripts/test-durations.ts`);
 * a file in neither is new and runs first. Files that failed last time still run before the rest.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { TestSpecification } from "vitest/node";
import { BaseSequencer } from "vitest/node";

export const DURATIONS_FILE = path.join(import.meta.dirname, "durations.json");

/** `tests/<name>.test.ts` → seconds, from the committed measurement. */
export function committedDurations(file = DURATIONS_FILE): Map<string, number> {
  try {
    const raw = JSON.parse(readFileSync(file, "utf8")) as { files?: Record<string, number> };
    return new Map(Object.entries(raw.files ?? {}));
  } catch {
    return new Map();
  }
}

/** What the order needs to know of a file: whether it failed last time, and how long it takes. */
export interface Known {
  failed: boolean;
  seconds: number;
}

/** Failed first, then longest first; unknown durations (Infinity) lead. Stable for ties. */
export function longestFirst<T extends Known>(files: T[]): T[] {
  return [...files].sort((a, b) => Number(b.failed) - Number(a.failed) || b.seconds - a.seconds);
}

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const committed = committedDurations();
    const root = this.ctx.config.root;
    const known = (spec: TestSpecification): Known => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec);
      if (cached) return { failed: cached.failed, seconds: cached.duration / 1000 };
      const rel = path.relative(root, spec.moduleId).split(path.sep).join("/");
      return { failed: false, seconds: committed.get(rel) ?? Number.POSITIVE_INFINITY };
    };
    return longestFirst(files.map((spec) => ({ spec, ...known(spec) }))).map((k) => k.spec);
  }
}
