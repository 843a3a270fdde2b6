/**
 * `pte-farm compare` and `pte-farm detect`: read and validate run records, call the pure code
 * (compare.ts, detect.ts), print JSON or markdown. Bad input is a ConfigurationError naming the
 * file, the JSON path and, for samples, the metric and rep; main.ts turns it into exit 2.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { renderComparison } from "../../../reports/compare.ts";
import { type CompareConfig, loadCompareConfig, settingsFor } from "../compare/config.ts";
import { cellSeries, type Detection, detectSeries } from "../compare/detect.ts";
import { type Comparison, checkComparable, compareRecords } from "../compare/verdicts.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath } from "../core/paths.ts";
import { formatPath, parse, ValidationError } from "../core/validate.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";

/**
 * Sample values the schema cannot name well: a NaN (written as null by JSON.stringify, or as a
 * string), zero or a negative value. Checked before the schema so the message says "NaN".
 */
function sampleProblem(name: string, raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const metrics = (raw as { metrics?: unknown }).metrics;
  if (typeof metrics !== "object" || metrics === null) return null;
  for (const [metric, m] of Object.entries(metrics)) {
    const samples = (m as { samples?: unknown } | null)?.samples;
    if (!Array.isArray(samples)) continue;
    for (const [i, v] of samples.entries()) {
      const where = `${name}: ${formatPath(["metrics", metric, "samples", i])}`;
      if (v === null || v === "NaN" || (typeof v === "number" && Number.isNaN(v))) {
        return `${where}: metric ${metric} rep ${i} is NaN (null in JSON); the execute stage lost this measurement`;
      }
      if (typeof v === "number" && v <= 0) {
        return `${where}: metric ${metric} rep ${i} is ${v}; samples must be positive (a rate or size of ${v} is a broken measurement)`;
      }
    }
  }
  return null;
}

/** Reads one run record; every problem is a ConfigurationError naming the file. */
export async function readRunRecord(file: string): Promise<RunRecord> {
  const name = displayPath(file);
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(`cannot read run record ${name} (${err.code ?? err.message})`);
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(`${name}: not valid JSON (${(err as Error).message})`);
  }
  const problem = sampleProblem(name, raw);
  if (problem !== null) throw new ConfigurationError(problem);
  try {
    return parse(runRecord, raw, name);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ConfigurationError(`${err.message} (not a valid pte-farm/run@1 record)`);
    }
    throw err;
  }
}

export interface CompareOptions {
  base: string;
  head: string;
  format: "json" | "markdown";
  acrossToolchains: boolean;
  config?: string;
  logger: Logger;
}

/** Reads and checks both records and compares them (the compare action calls this too). */
export async function compareFiles(opts: Omit<CompareOptions, "format" | "logger">): Promise<Comparison> {
  const config = await loadCompareConfig(opts.config);
  const [base, head] = await Promise.all([readRunRecord(opts.base), readRunRecord(opts.head)]);
  checkComparable(
    { name: displayPath(opts.base), record: base },
    { name: displayPath(opts.head), record: head },
    opts.acrossToolchains,
  );
  return compareRecords(base, head, config);
}

/** Prints the comparison; returns it so main.ts can choose the exit code. */
export async function compareCommand(opts: CompareOptions): Promise<Comparison> {
  const result = await compareFiles(opts);
  opts.logger.info(opts.format === "json" ? JSON.stringify(result, null, 2) : renderComparison(result));
  return result;
}

/** Every *.json under the given files and folders (recursively), sorted. */
async function recordFiles(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new ConfigurationError(`--history ${input}: no such file or folder`);
    });
    if (info.isDirectory()) {
      const entries = await readdir(input, { recursive: true, withFileTypes: true });
      for (const e of entries) {
        if (e.isFile() && e.name.endsWith(".json")) out.push(path.join(e.parentPath, e.name));
      }
    } else out.push(input);
  }
  return out.sort();
}

export interface DetectOptions {
  history: string[];
  cell: string;
  metric: string;
  config?: string;
  logger: Logger;
}

export async function detectCommand(opts: DetectOptions): Promise<Detection> {
  const config: CompareConfig = await loadCompareConfig(opts.config);
  const files = await recordFiles(opts.history);
  const records = await Promise.all(files.map(readRunRecord));
  const series = cellSeries(records, opts.cell, opts.metric);
  if (series.length === 0) {
    const cells = [...new Set(records.map((r) => r.cell.id))].sort();
    throw new ConfigurationError(
      `no passing record of cell ${opts.cell} with metric ${opts.metric} in ${files.length} record(s); ` +
        `cells present: ${cells.join(", ") || "none"}`,
    );
  }
  const device = records.find((r) => r.cell.id === opts.cell)?.cell.device ?? "";
  const { min_effect } = settingsFor(config, opts.metric, device);
  const result = detectSeries(series, opts.cell, opts.metric, { minEffect: min_effect });
  opts.logger.info(JSON.stringify(result, null, 2));
  return result;
}
