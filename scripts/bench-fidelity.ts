/**
 * Measurement fidelity (issue 16, "measure what users run"): does the farm's host decode figure
 * equal what ExecuTorch's own runner reports on the same `.pte`? Prints a markdown table.
 *
 *   node scripts/bench-fidelity.ts [--cell ID] [--blocks N] [--reps N] [--runs N] [--keep]
 *
 * `pte-farm run` builds the cell (or takes it from the cache, .cache/pte-farm) and runs its execute
 * stage once. Then, in ABBA order per block so a drifting machine favours neither, the benchmark
 * alternates three arms on that `.pte`:
 * - farm: the execute stage again, as the python-runtime driver runs it (the run's own spec.json,
 *   `--reps` measured reps); its figure is the median of its decode_tokens_per_sec samples;
 * - loop: the same with `options.timer: python-loop`, the farm's figure before issue 16;
 * - runner: TextLLMRunner's own Stats (stages/pte_stages/bench_runner.py) in a process of its own
 *   with no Python token callback, `--runs` generations of each prompt, tokens over milliseconds
 *   summed so the millisecond clock resolves < 0.5 %.
 * The ratios farm ÷ runner and loop ÷ runner are per block; the summary is their median and range.
 * Separate processes minutes apart see a shared machine's load change, so one more figure has none:
 * "same runs", the farm's decode rate (over all its reps) over the runner's Stats of the very
 * generations the farm timed (the execute data's `runner_stats`): the farm's clock and glue alone.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { listFiles } from "../actions/src/core/hashing.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { type RunRecord, runRecord } from "../actions/src/schemas/run-record.ts";
import { executeData, stageResult } from "../actions/src/schemas/stage.ts";
import { median } from "../actions/src/stats/robust.ts";

const PYTHON = process.env.PTE_FARM_PYTHON ?? path.join(REPO_ROOT, ".venv/bin/python");
const STAGES = path.join(REPO_ROOT, "stages");
const ENV = { PYTHONPATH: STAGES, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };

function usage(message: string): never {
  process.stderr.write(`bench-fidelity: ${message}\n`);
  process.exit(2);
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    usage(`--${name} must be a whole number >= 1, got ${JSON.stringify(value)}`);
  return n;
}

async function buildAndRecord(cell: string, reps: number, out: string): Promise<RunRecord> {
  const res = await execa(
    process.execPath,
    [
      path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
      "run",
      "--cells",
      cell,
      "--reps",
      String(reps),
      "--out",
      out,
    ],
    { reject: false, stdout: "inherit", stderr: "inherit" },
  );
  if (res.exitCode !== 0)
    throw new Error(`pte-farm run --cells ${cell} exited ${res.exitCode}; see its output above`);
  const files = (await listFiles(path.join(out, "cells"))).filter((f) => f.endsWith("run.json"));
  if (files.length !== 1) usage(`--cell ${cell} matched ${files.length} cells; name exactly one`);
  const file = path.join(out, "cells", files[0] as string);
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

function stageDir(record: RunRecord, out: string, stage: string): string {
  const s = record.stages.find((x) => x.stage === stage);
  if (s === undefined) throw new Error(`the run record has no ${stage} stage`);
  return path.isAbsolute(s.dir) ? s.dir : path.join(out, s.dir);
}

interface Spec {
  inputs: { pte: string };
  model: { path: string; max_seq_len: number };
  prompts: string[];
  max_new_tokens: number;
  execute: { reps: number };
  options?: Record<string, unknown>;
}

/** One execute stage process, as the python-runtime driver spawns it; the median decode sample. */
interface FarmArm {
  rate: number;
  timer: string;
  /** The farm's rate over the runner's Stats of the same generations (null: the loop timed). */
  sameRuns: number | null;
}

async function farm(spec: Spec, timer: string | null, dir: string): Promise<FarmArm> {
  const specPath = `${dir}.spec.json`;
  const options = { ...(spec.options ?? {}), ...(timer === null ? {} : { timer }) };
  await writeFile(specPath, JSON.stringify({ ...spec, options }));
  const res = await execa(PYTHON, ["-m", "pte_stages.execute", "--spec", specPath, "--out", dir], {
    reject: false,
    env: ENV,
  });
  const file = path.join(dir, "result.json");
  const result = parseJson(stageResult, await readFile(file, "utf8"), file);
  if (result.status !== "ok")
    throw new Error(`execute failed (exit ${res.exitCode}): ${result.error?.message}`);
  const data = parseJson(executeData, JSON.stringify(result.data), file);
  const samples = data.metrics.decode_tokens_per_sec?.samples ?? [];
  const stats = data.runner_stats;
  // Every rep decodes the same tokens, so the rate over all reps is the samples' harmonic mean.
  const overall = samples.length / samples.reduce((a, x) => a + 1 / x, 0);
  const sameRuns = stats === undefined ? null : overall / ((1000 * stats.generated_tokens) / stats.decode_ms);
  return { rate: median(samples), timer: data.timer ?? "python-loop", sameRuns };
}

interface RunnerRate {
  decode_tokens_per_sec: number;
  resolution: number;
  generated_tokens: number;
  decode_ms: number;
}

async function runner(spec: Spec, runs: number, dir: string): Promise<RunnerRate> {
  const out = `${dir}.runner.json`;
  const args = ["-m", "pte_stages.bench_runner", "--pte", spec.inputs.pte];
  args.push("--tokenizer", path.join(spec.model.path, "tokenizer.json"), "--out", out);
  for (const p of spec.prompts) args.push("--prompt", p);
  args.push("--max-new", String(spec.max_new_tokens), "--max-seq", String(spec.model.max_seq_len));
  args.push("--runs", String(runs));
  const res = await execa(PYTHON, args, { reject: false, env: ENV });
  if (res.exitCode !== 0) throw new Error(`bench_runner exited ${res.exitCode}:\n${res.stderr}`);
  return JSON.parse(await readFile(out, "utf8")) as RunnerRate;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;

const { values } = parseArgs({
  options: {
    cell: { type: "string", default: "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable" },
    blocks: { type: "string", default: "6" },
    reps: { type: "string", default: "20" },
    runs: { type: "string", default: "20" },
    keep: { type: "boolean", default: false },
  },
});
const blocks = positive("blocks", values.blocks);
const reps = positive("reps", values.reps);
const runs = positive("runs", values.runs);
const work = await mkdtemp(path.join(tmpdir(), "pte-farm-fidelity-"));
try {
  const record = await buildAndRecord(values.cell, reps, path.join(work, "run"));
  const spec = JSON.parse(
    await readFile(path.join(stageDir(record, path.join(work, "run"), "execute"), "spec.json"), "utf8"),
  ) as Spec;
  spec.execute.reps = reps;
  const rows: string[] = [];
  const farmRatio: number[] = [];
  const loopRatio: number[] = [];
  const sameRuns: number[] = [];
  let resolution = 0;
  let timer = "";
  for (let b = 0; b < blocks; b++) {
    const dir = path.join(work, `block-${b}`);
    // ABBA over blocks: even blocks farm → loop → runner, odd ones runner → loop → farm.
    const order = b % 2 === 0 ? ["farm", "loop", "runner"] : ["runner", "loop", "farm"];
    const got: Record<string, number> = {};
    for (const arm of order) {
      if (arm === "runner") {
        const r = await runner(spec, runs, `${dir}-runner`);
        got.runner = r.decode_tokens_per_sec;
        resolution = Math.max(resolution, r.resolution);
      } else {
        const f = await farm(spec, arm === "loop" ? "python-loop" : null, `${dir}-${arm}`);
        got[arm] = f.rate;
        if (arm === "farm") {
          timer = f.timer;
          if (f.sameRuns !== null) sameRuns.push(f.sameRuns);
        }
      }
    }
    const [fr, lr, rr] = [got.farm as number, got.loop as number, got.runner as number];
    farmRatio.push(fr / rr);
    loopRatio.push(lr / rr);
    const same = sameRuns.length === b + 1 ? (sameRuns[b] as number).toFixed(3) : "—";
    rows.push(
      `| ${b + 1} | ${fr.toFixed(0)} | ${lr.toFixed(0)} | ${rr.toFixed(0)} | ${(fr / rr).toFixed(3)} | ${(lr / rr).toFixed(3)} | ${same} |`,
    );
  }
  const lines = [
    `cell ${record.cell.id}, ${blocks} blocks; farm and loop: median of ${reps} execute reps; ` +
      `runner: ${runs} generations per prompt, Stats resolution ≤ ${pct(resolution)}; farm timer: ${timer}`,
    "",
    "| block | farm tok/s | loop tok/s | runner tok/s | farm ÷ runner | loop ÷ runner | farm ÷ runner, same runs |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `farm ÷ runner: median ${median(farmRatio).toFixed(3)} (range ${range(farmRatio)}); ` +
      `python loop ÷ runner: median ${median(loopRatio).toFixed(3)} (range ${range(loopRatio)})`,
    sameRuns.length === 0
      ? ""
      : `farm ÷ runner on the same runs: median ${median(sameRuns).toFixed(3)} (range ${range(sameRuns)})`,
  ];
  process.stdout.write(`\n${lines.join("\n")}\n`);
  if (values.keep) process.stdout.write(`\nkept: ${work}\n`);
} finally {
  if (!values.keep) await rm(work, { recursive: true, force: true });
}
