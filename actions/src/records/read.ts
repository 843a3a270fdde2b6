/**
 * Reading run record files from disk: the checks a record needs before the schema (NaN and
 * non-positive samples), and the collectors that find record files in folders. Bad input is a
 * ConfigurationError naming the file, the JSON path and, for samples, the metric and rep.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../core/errors.ts";
import { displayPath } from "../core/paths.ts";
import { formatPath, parse, parseJson, ValidationError } from "../core/validate.ts";
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

/** Every *.json under the given files and folders (recursively), sorted. */
export async function recordFiles(inputs: readonly string[]): Promise<string[]> {
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

/** `pte-farm run` writes `run.json` and `run.base.json`; a history store names records by time. */
const RECORD_FILE = /^(run|run\.base|\d{4}-\d{2}-\d{2}T.*)\.json$/;

/** Files given by name, and the record files under folders given. */
export async function jsonFiles(inputs: readonly string[], flag: string): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new ConfigurationError(`${flag} ${input}: no such file or folder`);
    });
    if (!info.isDirectory()) {
      out.push(input);
      continue;
    }
    for (const e of await readdir(input, { recursive: true, withFileTypes: true })) {
      // A run's folder also holds each stage's spec.json and result.json: only records are read.
      if (e.isFile() && RECORD_FILE.test(e.name)) {
        out.push(path.join(e.parentPath, e.name));
      }
    }
  }
  return [...new Set(out)].sort();
}

/** Reads and validates run record files; every problem is a ConfigurationError naming the file. */
export async function readRecords(files: readonly string[]): Promise<RunRecord[]> {
  if (files.length === 0)
    throw new ConfigurationError("no run record given; pass one or more run.json files");
  const out: RunRecord[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new ConfigurationError(`cannot read run record ${file} (${err.code ?? err.message})`);
    });
    try {
      out.push(parseJson(runRecord, text, file));
    } catch (err) {
      if (err instanceof ValidationError)
        throw new ConfigurationError(`not a valid run record: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** Every run record (`*.json`) under `dir`, at any depth, sorted; none when `dir` does not exist. */
export async function recordsUnder(dir: string): Promise<RunRecord[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    },
  );
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith(".json"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  return files.length === 0 ? [] : readRecords(files);
}
