/**
 * `node scripts/bench-history.ts [--records N] [--git-records N]`: the history stores at scale.
 *
 * PostgreSQL (a throwaway server of Debian's package on loopback, scripts/throwaway-postgres.ts):
 * N run records (default 1,000,000: 300 cells × ~3,334 nights, lean nightly records like
 * bench-detect's) are appended by two writer processes at once, in batches of 1,000; then detect
 * runs over every cell's series (the store's cells(), then one cell's nightly records at a time),
 * and one cell's history report is rendered. Each phase is its own process, so its peak memory
 * (maxRSS) is its own.
 *
 * The git data branch: 10,000 records appended night by night (100 cells, one commit a night) to
 * a bare repository, the way farm-nightly writes them; `.git` is measured loose and after
 * `git gc`, then compacted (one file per cell per month, a new root commit) and measured again.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import pg from "pg";
import { cellSeries, type Detection, detectSeries } from "../actions/src/compare/detect.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { PostgresStore } from "../actions/src/history/postgres.ts";
import { collect } from "../actions/src/history/store.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { renderHistoryReport } from "../reports/compare.ts";
import { startPostgres } from "./throwaway-postgres.ts";

const METRIC = "decode_tokens_per_sec";
const CELLS = 300;
const URL_ENV = "PTE_FARM_BENCH_URL";

const template = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "tests", "fixtures", "run-records", "host-fp32-portable.json"), "utf8"),
) as RunRecord;
template.tokens = [];
template.stages = [];
template.telemetry = { samples: [] };

/** Night `n` of cell `c`: 8 reps of three metrics; one cell in five has a 5–12% step. */
function nightly(c: number, n: number, nights: number): RunRecord {
  const rng = seededRng(c * 1_000_003 + n);
  const level0 = 1 + seededRng(c).uniform(0, 29);
  const step = c % 5 === 0 ? Math.floor(nights / 2) : null;
  const level = level0 * (1 + 0.01 * rng.normal()) * (step !== null && n >= step ? 0.92 : 1);
  const metric = (unit: string, better: "higher" | "lower", f: number) => ({
    unit,
    better,
    samples: Array.from({ length: 8 }, () => +(f * level * (1 + 0.02 * rng.normal())).toFixed(4)),
  });
  return {
    ...template,
    cell: { ...template.cell, id: `model-${c}/fp32/xnnpack/pi5@stable`, model: `model-${c}`, device: "pi5" },
    session: `night-${n}`,
    role: "nightly",
    git_sha: `${c.toString(16).padStart(4, "0")}${n.toString(16).padStart(36, "0")}`,
    started_at: new Date(Date.UTC(2024, 0, 1) + n * 86_400_000).toISOString(),
    metrics: {
      [METRIC]: metric("tok/s", "higher", 1),
      prefill_tokens_per_sec: metric("tok/s", "higher", 5),
      first_token_ms: metric("ms", "lower", 1000 / level0),
    },
  } as RunRecord;
}

const rssMb = () => process.resourceUsage().maxRSS / 1024;
const url = () => process.env[URL_ENV] as string;

/** Child: append cells `from`..`to` (exclusive), every night, in batches of 1,000. */
async function phaseAppend(from: number, to: number, nights: number) {
  const store = new PostgresStore(url());
  const t0 = performance.now();
  let batch: RunRecord[] = [];
  let n = 0;
  for (let night = 0; night < nights; night++) {
    for (let c = from; c < to; c++) {
      batch.push(nightly(c, night, nights));
      if (batch.length === 1000) {
        n += (await store.append(batch)).length;
        batch = [];
      }
    }
  }
  n += (await store.append(batch)).length;
  await store.close();
  return { records: n, seconds: (performance.now() - t0) / 1000, maxRssMb: rssMb() };
}

/** Child: detect over every cell's nightly series, one cell in memory at a time. */
async function phaseDetect() {
  const store = new PostgresStore(url(), { pageSize: 2000 });
  const t0 = performance.now();
  const cells = await store.cells();
  let records = 0;
  let steps = 0;
  for (const cell of cells) {
    const series = await collect(store, { cell, role: "nightly" });
    records += series.length;
    steps += detectSeries(cellSeries(series, cell, METRIC), cell, METRIC).change_points.length;
  }
  await store.close();
  return {
    cells: cells.length,
    records,
    changePoints: steps,
    seconds: (performance.now() - t0) / 1000,
    maxRssMb: rssMb(),
  };
}

/** Child: one cell's history report (its whole series read, detected and rendered). */
async function phaseReport() {
  const store = new PostgresStore(url());
  const t0 = performance.now();
  const cell = "model-150/fp32/xnnpack/pi5@stable";
  const series = await collect(store, { cell, role: "nightly" });
  const d: Detection = detectSeries(cellSeries(series, cell, METRIC), cell, METRIC);
  const report = renderHistoryReport([d]);
  await store.close();
  return {
    records: series.length,
    bytes: report.length,
    seconds: (performance.now() - t0) / 1000,
    maxRssMb: rssMb(),
  };
}

function child(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [import.meta.filename, ...args], {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${args.join(" ")} exited ${code}`)),
    );
  });
}

const duBytes = (dir: string) =>
  Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);

async function gitSizes(records: number) {
  const repo = await mkdtemp(path.join(os.tmpdir(), "pte-farm-bench-git-"));
  try {
    await execa("git", ["init", "-q", "--bare", repo]);
    await execa("git", ["config", "gc.auto", "0"], { cwd: repo });
    const store = new GitBranchStore(repo);
    const cells = 100;
    const nights = Math.ceil(records / cells);
    const t0 = performance.now();
    for (let n = 0; n < nights; n++)
      await store.append(Array.from({ length: cells }, (_, c) => nightly(c, n, nights)));
    const appendS = (performance.now() - t0) / 1000;
    const loose = duBytes(repo);
    await execa("git", ["gc", "-q", "--prune=now"], { cwd: repo });
    const packed = duBytes(repo);
    const files = (
      await execa("git", ["ls-tree", "-r", "--name-only", "pte-farm-data"], { cwd: repo })
    ).stdout.split("\n").length;
    const t1 = performance.now();
    const compacted = await store.compact({ before: "2100-01" });
    const compactS = (performance.now() - t1) / 1000;
    await execa("git", ["reflog", "expire", "--expire=now", "--all"], { cwd: repo });
    await execa("git", ["gc", "-q", "--prune=now"], { cwd: repo });
    const after = duBytes(repo);
    const filesAfter = (
      await execa("git", ["ls-tree", "-r", "--name-only", "pte-farm-data"], { cwd: repo })
    ).stdout.split("\n").length;
    const t2 = performance.now();
    const listed = (await store.list()).length;
    const listS = (performance.now() - t2) / 1000;
    return {
      records: cells * nights,
      commits: nights,
      appendS,
      loose,
      packed,
      files,
      compactS,
      after,
      filesAfter,
      folded: compacted.folded,
      listed,
      listS,
    };
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

async function main() {
  const { values } = parseArgs({
    options: {
      phase: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      nights: { type: "string" },
      records: { type: "string", default: "1000000" },
      "git-records": { type: "string", default: "10000" },
    },
  });
  if (values.phase !== undefined) {
    const nights = Number(values.nights);
    const out =
      values.phase === "append"
        ? await phaseAppend(Number(values.from), Number(values.to), nights)
        : values.phase === "detect"
          ? await phaseDetect()
          : await phaseReport();
    process.stdout.write(JSON.stringify(out));
    return;
  }
  const total = Number(values.records);
  const nights = Math.ceil(total / CELLS);
  const server = await startPostgres();
  try {
    const env = { ...process.env, [URL_ENV]: await server.database("bench") };
    const half = CELLS / 2;
    const t0 = performance.now();
    const writers = await Promise.all([
      child(["--phase", "append", "--from", "0", "--to", String(half), "--nights", String(nights)], env),
      child(
        ["--phase", "append", "--from", String(half), "--to", String(CELLS), "--nights", String(nights)],
        env,
      ),
    ]);
    const appendS = (performance.now() - t0) / 1000;
    const appended = writers.reduce((s, w) => s + (w.records ?? 0), 0);
    const detect = await child(["--phase", "detect"], env);
    const report = await child(["--phase", "report"], env);
    const client = new pg.Client({ connectionString: env[URL_ENV] });
    await client.connect();
    const size = await client.query<{ b: string; v: string }>(
      "SELECT pg_database_size(current_database()) AS b, current_setting('server_version') AS v",
    );
    await client.end();
    const dbBytes = Number(size.rows[0]?.b);
    const git = await gitSizes(Number(values["git-records"]));
    console.log(`PostgreSQL ${size.rows[0]?.v}, ${os.cpus().length} cores, Node ${process.version}`);
    console.log(
      `append: ${appended.toLocaleString("en")} records (${CELLS} cells × ${nights} nights) by 2 writers in ${appendS.toFixed(1)} s = ${Math.round(appended / appendS).toLocaleString("en")} records/s; database ${mb(dbBytes)}; peak RSS per writer ${Math.max(...writers.map((w) => w.maxRssMb ?? 0)).toFixed(0)} MB`,
    );
    console.log(
      `detect over every series: ${detect.cells} cells, ${detect.records?.toLocaleString("en")} records, ${detect.changePoints} change points in ${detect.seconds?.toFixed(1)} s; peak RSS ${detect.maxRssMb?.toFixed(0)} MB`,
    );
    console.log(
      `one cell's report: ${report.records} records read, detected and rendered in ${report.seconds?.toFixed(2)} s; peak RSS ${report.maxRssMb?.toFixed(0)} MB`,
    );
    console.log(
      `git data branch, ${git.records.toLocaleString("en")} records in ${git.commits} nightly commits of 100 (append ${git.appendS.toFixed(1)} s): ` +
        `.git ${mb(git.loose)} loose, ${mb(git.packed)} after git gc, ${git.files} files in the tree; ` +
        `compacted (${git.folded} files folded in ${git.compactS.toFixed(1)} s) and gc'd: ${mb(git.after)}, ${git.filesAfter} files; all ${git.listed} read back in ${git.listS.toFixed(1)} s`,
    );
  } finally {
    await server.stop();
  }
}

await main();
