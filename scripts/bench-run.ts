/**
 * Benchmarks `pte-farm run` itself: one cold run (fresh cache) and one warm run (same cache), and
 * how much of each run's wall time is spent outside the Python stage processes (orchestration,
 * hashing, cache lookups, process start-up on our side). Prints a markdown table.
 *
 *   node scripts/bench-run.ts [--cells GLOBS] [--reps N] [--warmup N] [--keep]
 *
 * Stage process time is the sum of each distinct stage folder's wall time for stages that really
 * ran (cache misses and execute); a build shared by several cells counts once, a cache hit not at all.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { listFiles } from "../actions/src/core/hashing.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { type RunRecord, runRecord } from "../actions/src/schemas/run-record.ts";

interface Measured {
  label: string;
  exitCode: number;
  wallS: number;
  stageS: number;
  hits: number;
  builds: number;
}

async function records(out: string): Promise<RunRecord[]> {
  const files = (await listFiles(path.join(out, "cells"))).filter((f) => f.endsWith("run.json"));
  return Promise.all(
    files.map(async (f) => {
      const file = path.join(out, "cells", f);
      return parseJson(runRecord, await readFile(file, "utf8"), file);
    }),
  );
}

async function measure(label: string, args: string[], cache: string, out: string): Promise<Measured> {
  const started = performance.now();
  const res = await execa(
    process.execPath,
    [path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"), "run", ...args, "--out", out],
    {
      reject: false,
      env: { PTE_FARM_CACHE: cache },
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  const wallS = (performance.now() - started) / 1000;
  const seen = new Map<string, number>();
  let hits = 0;
  let builds = 0;
  for (const r of await records(out)) {
    for (const s of r.stages) {
      if (s.stage !== "execute") builds++;
      if (s.cache === "hit") hits++;
      if (s.cache === "miss" || s.cache === "off") seen.set(s.dir, s.wall_s);
    }
  }
  const stageS = [...seen.values()].reduce((a, b) => a + b, 0);
  return { label, exitCode: res.exitCode ?? -1, wallS, stageS, hits, builds };
}

function table(rows: Measured[]): string {
  const lines = [
    "| run | exit | wall s | in stage processes s | outside stages s | outside share | cache hits |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const outside = Math.max(0, r.wallS - r.stageS);
    lines.push(
      `| ${r.label} | ${r.exitCode} | ${r.wallS.toFixed(1)} | ${r.stageS.toFixed(1)} | ${outside.toFixed(1)} | ` +
        `${((100 * outside) / r.wallS).toFixed(1)}% | ${r.hits}/${r.builds} |`,
    );
  }
  return lines.join("\n");
}

const { values } = parseArgs({
  options: {
    cells: { type: "string" },
    reps: { type: "string", default: "1" },
    warmup: { type: "string", default: "0" },
    keep: { type: "boolean", default: false },
  },
});
const args = [
  ...(values.cells ? ["--cells", values.cells] : []),
  "--reps",
  values.reps,
  "--warmup",
  values.warmup,
];
const work = await mkdtemp(path.join(tmpdir(), "pte-farm-bench-"));
const cache = path.join(work, "cache");
try {
  const cold = await measure("cold (fresh cache)", args, cache, path.join(work, "cold"));
  const warm = await measure("warm (same cache)", args, cache, path.join(work, "warm"));
  process.stdout.write(`\n${table([cold, warm])}\n`);
  if (values.keep) process.stdout.write(`\nkept: ${work}\n`);
  process.exitCode = Math.max(cold.exitCode, warm.exitCode);
} finally {
  if (!values.keep) await rm(work, { recursive: true, force: true });
}
