/**
 * The one reader of run record files: the sample check a record needs before its schema (NaN and
 * non-positive samples), the file reader, and the collector that finds record files in folders.
 * The CLI, the nightly steps and the artefact readers (publish/ingest.ts, release/artifacts.ts,
 * which read hostile files through their own bounded walk) all check samples here. Bad input is a
 * ConfigurationError naming the file, the JSON path and, for samples, the metric and rep.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../core/errors.ts";
import { displayPath } from "../core/paths.ts";
import { formatPath, parse, ValidationError } from "../core/validate.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";

/**
 * The first sample of a record (parsed JSON, not yet checked) that the schema cannot name well: a
 * NaN (written as null by JSON.stringify, or as a string), zero or a negative value, as
 * `metrics.<metric>.samples[<i>]: …`. Checked before the schema so the message says "NaN".
 */
export function sampleProblem(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const metrics = (raw as { metrics?: unknown }).metrics;
  if (typeof metrics !== "object" || metrics === null) return null;
  for (const [metric, m] of Object.entries(metrics)) {
    const samples = (m as { samples?: unknown } | null)?.samples;
    if (!Array.isArray(samples)) continue;
    for (const [i, v] of samples.entries()) {
      const where = formatPath(["metrics", metric, "samples", i]);
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

/** A record file's JSON, not yet checked; an unreadable file or bad JSON is a ConfigurationError naming it. */
export async function readRecordJson(file: string): Promise<{ name: string; raw: unknown }> {
  const name = displayPath(file);
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(`cannot read run record ${name} (${err.code ?? err.message})`);
  });
  try {
    return { name, raw: JSON.parse(text) };
  } catch (err) {
    throw new ConfigurationError(`${name}: not valid JSON (${(err as Error).message})`);
  }
}

/** Checks a record file's JSON as a run record (its samples first); a ConfigurationError naming the file. */
export function checkRunRecord(raw: unknown, name: string): RunRecord {
  const problem = sampleProblem(raw);
  if (problem !== null) throw new ConfigurationError(`${name}: ${problem}`);
  try {
    return parse(runRecord, raw, name);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ConfigurationError(`${err.message} (not a valid pte-farm/run@1 record)`);
    }
    throw err;
  }
}

/** Reads one run record; every problem is a ConfigurationError naming the file. */
export async function readRunRecord(file: string): Promise<RunRecord> {
  const { name, raw } = await readRecordJson(file);
  return checkRunRecord(raw, name);
}

/** Run record files given on a command line, read in order; none given is bad input. */
export async function readRunRecords(files: readonly string[]): Promise<RunRecord[]> {
  if (files.length === 0)
    throw new ConfigurationError("no run record given; pass one or more run.json files");
  const out: RunRecord[] = [];
  for (const file of files) out.push(await readRunRecord(file));
  return out;
}

/**
 * The names `pte-farm run` gives records (`run.json`, `run.base.json`) and a history store's
 * (by time): a run's folder also holds each stage's spec.json and result.json, which are not.
 */
export const RUN_RECORD_FILE = /^(run|run\.base|\d{4}-\d{2}-\d{2}T.*)\.json$/;

export interface RecordFilesOptions {
  /** Names an input that does not exist in the error (`--history`); absent: it is skipped. */
  flag?: string;
  /** Which files under a folder are read (default: every `*.json`); files given by name always are. */
  names?: RegExp;
}

/** Files given by name, and the record files under folders given (at any depth); sorted, once each. */
export async function recordFiles(
  inputs: readonly string[],
  opts: RecordFilesOptions = {},
): Promise<string[]> {
  const names = opts.names ?? /\.json$/;
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch((err: NodeJS.ErrnoException) => {
      if (opts.flag === undefined && err.code === "ENOENT") return null;
      throw new ConfigurationError(`${opts.flag ?? "run records:"} ${input}: no such file or folder`);
    });
    if (info === null) continue;
    if (!info.isDirectory()) {
      out.push(input);
      continue;
    }
    for (const e of await readdir(input, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && names.test(e.name)) out.push(path.join(e.parentPath, e.name));
    }
  }
  return [...new Set(out)].sort();
}

/** Every run record (`*.json`) under `dir`, at any depth, sorted; none when `dir` does not exist. */
export async function recordsUnder(dir: string): Promise<RunRecord[]> {
  const files = await recordFiles([dir]);
  return Promise.all(files.map(readRunRecord));
}
