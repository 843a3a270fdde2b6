/**
 * Benchmarks `pte-farm plan` on a synthetic farm of at least 5,000 cells (scripts/synthetic-farm.ts,
 * written as YAML): load + validate (schema, references, impossible cells), expand + plan for a
 * nightly schedule, shard + serialise, and a pull-request plan with affected-cell selection. Prints
 * the median of several iterations as a markdown table. Planning runs on every CI event, so it must
 * stay well under a second.
 *
 *   node scripts/bench-plan.ts [--iterations N]   (or: make bench-plan)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { loadFarm } from "../matrix/load.ts";
import { plan } from "../matrix/plan.ts";
import { githubOutput, planOutput } from "../matrix/shard.ts";
import { type SyntheticSize, writeSyntheticFarm } from "./synthetic-farm.ts";

const SIZE: SyntheticSize = { models: 25, recipes: 4, backends: 2, devices: 25, toolchains: 1 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const { values } = parseArgs({ options: { iterations: { type: "string", default: "7" } } });
const iterations = Number(values.iterations);
const dir = await mkdtemp(path.join(tmpdir(), "pte-farm-bench-plan-"));
try {
  const file = path.join(dir, "farm.yml");
  await writeSyntheticFarm(file, SIZE);
  const times: Record<string, number[]> = { load: [], schedule: [], output: [], pr: [], total: [] };
  let cells = 0;
  let builds = 0;
  let shards = "";
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const farm = await loadFarm(file);
    const t1 = performance.now();
    const p = plan(farm, { event: "schedule" });
    const t2 = performance.now();
    const out = planOutput(p);
    githubOutput(out);
    const t3 = performance.now();
    plan(farm, { event: "pull_request", changed: ["README.md", "stages/pte_stages/export.py"] });
    const t4 = performance.now();
    times.load?.push(t1 - t0);
    times.schedule?.push(t2 - t1);
    times.output?.push(t3 - t2);
    times.pr?.push(t4 - t3);
    times.total?.push(t4 - t0);
    cells = p.devices.length;
    builds = p.builds.length;
    shards = JSON.stringify(out.shards);
  }
  console.log(
    `synthetic farm: ${SIZE.models} models × ${SIZE.recipes} recipes × ${SIZE.backends} backends × ` +
      `${SIZE.devices} devices × ${SIZE.toolchains} toolchain = ${cells} cells, ${builds} builds, shards ${shards}; ` +
      `median of ${iterations} iterations (Node ${process.versions.node})\n`,
  );
  console.log("| step | median ms |\n|---|---:|");
  const label: Record<string, string> = {
    load: "load + validate (YAML, schema, references, impossible cells)",
    schedule: "expand + plan (schedule: every cell)",
    output: "shard + $GITHUB_OUTPUT text",
    pr: "plan a pull request (affected cells)",
    total: "total",
  };
  for (const [k, v] of Object.entries(times)) console.log(`| ${label[k]} | ${median(v).toFixed(1)} |`);
  console.log(`\nfirst (cold) iteration total: ${(times.total?.[0] ?? 0).toFixed(1)} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
