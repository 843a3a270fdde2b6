/**
 * Run records for compare/detect tests: the real host record in tests/fixtures/run-records, with
 * the decode samples (and session, device, toolchain) replaced.
 */
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "../../actions/src/core/paths.ts";
import { parse } from "../../actions/src/core/validate.ts";
import { type RunRecord, runRecord } from "../../actions/src/schemas/run-record.ts";
import { tempDir } from "./env.ts";

export const FIXTURE = path.join(REPO_ROOT, "tests", "fixtures", "run-records", "host-fp32-portable.json");
const base: unknown = JSON.parse(readFileSync(FIXTURE, "utf8"));

export function record(
  decode: number[],
  opts: { session?: string; flags?: string[][]; startedAt?: string; gitSha?: string } = {},
): RunRecord {
  const r = structuredClone(base) as RunRecord;
  r.metrics = {
    decode_tokens_per_sec: {
      unit: "tok/s",
      better: "higher",
      samples: decode,
      ...(opts.flags === undefined ? {} : { sample_flags: opts.flags }),
    },
  };
  if (opts.session !== undefined) r.session = opts.session;
  if (opts.startedAt !== undefined) r.started_at = opts.startedAt;
  if (opts.gitSha !== undefined) r.git_sha = opts.gitSha;
  return parse(runRecord, r, "test record");
}

/** Writes JSON values (records, or deliberately broken ones) to a temp folder; returns their paths. */
export async function writeRecords(...values: unknown[]): Promise<string[]> {
  const dir = await tempDir();
  return Promise.all(
    values.map(async (v, i) => {
      const file = path.join(dir, `r${i}.json`);
      await writeFile(file, JSON.stringify(v));
      return file;
    }),
  );
}
