/**
 * What one bisection step runs in a lock's environment, and what it saw. The cell probe runs the
 * cell through the farm's own cell path (`pte-farm run`, pipeline/local-run.ts) with the step's
 * lock; the command probe runs a command as `git bisect run` does (exit 0 good, 125 untestable,
 * any other bad; the farm's exit 3 is infrastructure). A command that measures writes its
 * samples, as a run record's `metrics` (`{"name": {"unit", "better", "samples"}}`), to the file
 * `$PTE_FARM_METRICS`.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import type { Logger } from "../core/logger.ts";
import { silentLogger } from "../core/logger.ts";
import { defaultCacheDir } from "../core/paths.ts";
import { parseJson, record } from "../core/validate.ts";
import { runCommand } from "../pipeline/local-run.ts";
import { parseCellId } from "../schemas/cell-id.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { type Metric, metric } from "../schemas/stage.ts";
import type { Env } from "../toolchain/envs.ts";

export interface Observation {
  outcome: "pass" | "fail" | "incompatible" | "infra";
  /** Where it failed: a stage, "gate", or "command". */
  stage: string | null;
  /** What identifies the failure across versions: a known issue's id, or the message's shape. */
  signature: string | null;
  /** Evidence, one paragraph (the failure message, the first divergence, the last lines of output). */
  detail: string;
  /** What a passing run measured (a speed bisection compares these). */
  metrics?: Record<string, Metric>;
}

export interface Probe {
  /** For the report: "cell tiny-llama/…@stable" or "command `…`". */
  describe: string;
  /** The device whose compare thresholds (matrix/compare.yml) a speed bisection uses; "" for the defaults. */
  device: string;
  observe(env: Env, dir: string): Promise<Observation>;
}

/** A failure message with what changes between runs (paths, addresses, numbers) taken out. */
export function messageShape(message: string): string {
  return (message.split("\n").find((l) => l.trim() !== "") ?? "")
    .replace(/(\/[^\s:'"]+)+/g, "<path>")
    .replace(/0x[0-9a-fA-F]+/g, "<addr>")
    .replace(/\d+(\.\d+)*/g, "N")
    .trim()
    .slice(0, 200);
}

export function observeRecord(record: RunRecord): Observation {
  const f = record.failure;
  if (record.status === "pass") {
    return { outcome: "pass", stage: null, signature: null, detail: "passed", metrics: record.metrics };
  }
  if (record.status === "infra-error" && f?.message.startsWith("toolchain incompatible") === true) {
    return { outcome: "incompatible", stage: f.stage ?? null, signature: null, detail: f.message };
  }
  if (record.status !== "fail") {
    return {
      outcome: "infra",
      stage: f?.stage ?? null,
      signature: null,
      detail: f?.message ?? record.status,
    };
  }
  if (f === null) {
    const d = record.gate?.first_divergence;
    const where = d === null || d === undefined ? "" : `: first divergence ${JSON.stringify(d)}`;
    return {
      outcome: "fail",
      stage: "gate",
      signature: "tokens differ from the reference",
      detail: `gate failed${where}`,
    };
  }
  return {
    outcome: "fail",
    stage: f.stage ?? null,
    signature: f.known_issue === null ? messageShape(f.message) : `known issue ${f.known_issue}`,
    detail: f.message,
  };
}

/** `base`, or `base-2`, `base-3`…: a retried step (its first attempt hit infrastructure) runs into a new folder. */
async function freshDir(base: string): Promise<string> {
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

export function cellProbe(opts: {
  cell: string;
  matrix: string;
  python: string;
  reps: number;
  logger: Logger;
}): Probe {
  return {
    describe: `cell ${opts.cell}`,
    device: parseCellId(opts.cell)?.device ?? "",
    async observe(env: Env, dir: string): Promise<Observation> {
      const toolchain = opts.cell.slice(opts.cell.lastIndexOf("@") + 1);
      const outcome = await runCommand({
        matrix: opts.matrix,
        cells: opts.cell,
        out: await freshDir(path.join(dir, "run")),
        reps: opts.reps,
        warmup: 1,
        cache: true,
        cacheDir: defaultCacheDir(),
        timeoutS: 1800,
        role: "head",
        python: opts.python,
        locks: new Map([[toolchain, { ...env.lock, toolchain }]]),
        logger: silentLogger,
      });
      const record = outcome.records[0];
      if (record === undefined)
        return { outcome: "infra", stage: null, signature: null, detail: "the cell produced no record" };
      const seen = observeRecord(record);
      opts.logger.info(
        `  ${record.status}${seen.signature === null ? "" : `: ${seen.stage} ${seen.signature}`}`,
      );
      return seen;
    },
  };
}

export function commandProbe(command: string): Probe {
  return {
    describe: `command \`${command}\``,
    device: "",
    async observe(env: Env, dir: string): Promise<Observation> {
      const bin = path.join(env.dir, "bin");
      await mkdir(dir, { recursive: true });
      const metricsFile = path.join(dir, "metrics.json");
      const r = await execa("sh", ["-c", command], {
        reject: false,
        all: true,
        cwd: process.cwd(),
        env: {
          PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
          VIRTUAL_ENV: env.dir,
          PTE_FARM_PYTHON: env.python,
          PTE_FARM_METRICS: metricsFile,
          PYTHONNOUSERSITE: "1",
        },
      });
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, "command.log"),
        `$ ${command}\n${r.all ?? ""}\n(exit ${r.exitCode ?? r.signal})\n`,
      );
      const tail = (r.all ?? "").trim().split("\n").slice(-5).join("\n");
      if (r.exitCode === 0) {
        const text = await readFile(metricsFile, "utf8").catch(() => null);
        const metrics =
          text === null ? undefined : parseJson(record(metric), text, `${command}: $PTE_FARM_METRICS`);
        return {
          outcome: "pass",
          stage: null,
          signature: null,
          detail: "exit 0",
          ...(metrics === undefined ? {} : { metrics }),
        };
      }
      if (r.exitCode === 125)
        return {
          outcome: "incompatible",
          stage: "command",
          signature: null,
          detail: `exit 125 (untestable): ${tail}`,
        };
      if (r.exitCode === 3)
        return {
          outcome: "infra",
          stage: "command",
          signature: null,
          detail: `exit 3 (infrastructure): ${tail}`,
        };
      return { outcome: "fail", stage: "command", signature: `exit ${r.exitCode ?? r.signal}`, detail: tail };
    },
  };
}
