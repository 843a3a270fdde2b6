/**
 * What farm-upstream's issues job reads from the run job's artefact, as hostile data: every
 * `bisect.json` under a folder (schema-checked), the canaries' results and proposals, and the run
 * records of the channel's cells. A file that breaks its schema is bad input, named by path.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { type BisectRecord, bisectRecord } from "../bisect/record.ts";
import type { CanaryResult } from "../canaries/verdicts.ts";
import { arr, literal, obj, open, parseJson, record, str } from "../core/validate.ts";
import { recordsUnder } from "../records/read.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import type { CanaryProposalInput } from "./upstream-issues.ts";

const canaryFile = obj({
  schema: literal("pte-farm/canaries@1"),
  results: arr(
    open({
      knownIssue: str,
      cell: str,
      toolchain: str,
      state: literal(
        "reproduces",
        "reproduces-outside-range",
        "no-longer-reproduces",
        "fails-differently",
        "infrastructure",
      ),
      summary: str,
      versions: record(str),
    }),
  ),
  proposals: arr(open({ knownIssue: str, diff: str })),
});

export async function readBisects(dir: string): Promise<BisectRecord[]> {
  const out: BisectRecord[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile() || e.name !== "bisect.json") continue;
    const file = path.join(e.parentPath, e.name);
    out.push(parseJson(bisectRecord, await readFile(file, "utf8"), file));
  }
  return out;
}

export async function readCanaries(
  file: string,
): Promise<{ results: CanaryResult[]; proposals: CanaryProposalInput[] } | null> {
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return null;
  const parsed = parseJson(canaryFile, text, file);
  return {
    results: parsed.results.map((r) => ({ ...r, lock: null })),
    proposals: parsed.proposals.map((p) => ({ knownIssue: p.knownIssue, diff: p.diff })),
  };
}

export async function readChannelRecords(dir: string): Promise<RunRecord[]> {
  return recordsUnder(dir);
}
