/**
 * Rewrites `tests/durations.json` from vitest's results cache (the last `npx vitest run` on this
 * checkout): each test file's duration in seconds, which `tests/sequencer.ts` uses on a fresh clone
 * to start the longest files first. Run it after a whole `make test`; a stale file only costs order.
 *
 *   node scripts/test-durations.ts [CHECKOUT]   (default: this one; e.g. a fresh clone's folder)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../actions/src/core/paths.ts";

const cacheRoot = path.join(process.argv[2] ?? REPO_ROOT, "node_modules", ".vite", "vitest");
const files: Record<string, number> = {};
for (const dir of readdirSync(cacheRoot)) {
  const results = path.join(cacheRoot, dir, "results.json");
  if (!existsSync(results)) continue;
  const raw = JSON.parse(readFileSync(results, "utf8")) as {
    projects?: Record<string, { files?: Record<string, { duration?: number }> }>;
  };
  for (const project of Object.values(raw.projects ?? {}))
    for (const [file, result] of Object.entries(project.files ?? {}))
      if (typeof result.duration === "number") files[file] = Math.round(result.duration / 100) / 10;
}
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
const out = path.join(REPO_ROOT, "tests", "durations.json");
writeFileSync(
  out,
  `${JSON.stringify({ note: "seconds per test file, from scripts/test-durations.ts", files: sorted }, null, 2)}\n`,
);
console.log(`${out}: ${Object.keys(sorted).length} files`);
