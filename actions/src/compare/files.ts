/**
 * Two run record files in, a comparison out: `pte-farm compare` and the compare action both start
 * here. Reads and checks both records (records/read.ts), then calls the pure compareRecords.
 */
import { displayPath } from "../core/paths.ts";
import { readRunRecord } from "../records/read.ts";
import { loadCompareConfig } from "./config.ts";
import { type Comparison, checkComparable, compareRecords } from "./verdicts.ts";

export interface CompareFilesOptions {
  base: string;
  head: string;
  acrossToolchains: boolean;
  config?: string;
}

/** Reads and checks both records and compares them (the compare action calls this too). */
export async function compareFiles(opts: CompareFilesOptions): Promise<Comparison> {
  const config = await loadCompareConfig(opts.config);
  const [base, head] = await Promise.all([readRunRecord(opts.base), readRunRecord(opts.head)]);
  checkComparable(
    { name: displayPath(opts.base), record: base },
    { name: displayPath(opts.head), record: head },
    opts.acrossToolchains,
  );
  return compareRecords(base, head, config);
}
