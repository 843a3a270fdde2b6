/**
 * From a pile of run records to the report's cells: each head record with its cell's base record
 * (when there is one) and their comparison. Shared by `pte-farm report` and the report action, so
 * a PR comment and a local report pair and compare records the same way.
 *
 * The comparison is always recomputed here, from the records, by compareRecords: a comparison file
 * that came with the records (an artefact) is never shown as is, so it cannot claim a verdict the
 * records do not support.
 */
import type { CellReport } from "../../../reports/cell-report.ts";
import type { CompareConfig } from "../compare/config.ts";
import { checkComparable, compareRecords } from "../compare/verdicts.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export interface RecordFile {
  /** Where the record was read from, as shown to people. */
  file: string;
  record: RunRecord;
}

export interface PairOptions {
  config: CompareConfig;
  /** Compare records whose toolchains differ (`pte-farm compare --across-toolchains`). */
  acrossToolchains?: boolean;
  /** Throw on a base that is not comparable (the CLI, where the user chose the files) instead of noting it. */
  strict?: boolean;
}

export interface Paired {
  cells: CellReport[];
  /** Why a base record was not used, for the log: nothing is dropped silently. */
  notes: string[];
}

/** One record per cell and side; a second one is an error naming both files. */
export function onePerCell(entries: readonly RecordFile[], side: string): Map<string, RecordFile> {
  const map = new Map<string, RecordFile>();
  for (const e of entries) {
    const seen = map.get(e.record.cell.id);
    if (seen !== undefined) {
      throw new ConfigurationError(
        `two ${side} records for cell ${e.record.cell.id}: ${seen.file} and ${e.file}; pass one run's records`,
      );
    }
    map.set(e.record.cell.id, e);
  }
  return map;
}

/**
 * Pairs `heads` with `bases` by cell id and compares each pair whose records both passed. A base
 * that is not comparable (another device or toolchain) is left out with a note rather than
 * failing the whole report: the head's own result (its gate) still stands.
 */
export function pairCells(
  heads: ReadonlyMap<string, RecordFile>,
  bases: ReadonlyMap<string, RecordFile>,
  opts: PairOptions,
): Paired {
  const notes: string[] = [];
  for (const id of bases.keys()) {
    if (!heads.has(id)) notes.push(`base record of ${id} has no head record; ignored`);
  }
  const cells: CellReport[] = [];
  for (const [id, head] of heads) {
    const cell: CellReport = { head: head.record };
    const base = bases.get(id);
    if (base !== undefined) {
      try {
        checkComparable(
          { name: base.file, record: base.record },
          { name: head.file, record: head.record },
          opts.acrossToolchains ?? false,
        );
        cell.base = base.record;
        if (base.record.status === "pass" && head.record.status === "pass") {
          cell.comparison = compareRecords(base.record, head.record, opts.config);
        }
      } catch (err) {
        if (!(err instanceof ConfigurationError) || opts.strict) throw err;
        notes.push(`${id}: base not compared: ${err.message}`);
      }
    }
    cells.push(cell);
  }
  return { cells, notes };
}
