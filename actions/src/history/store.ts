/**
 * The history store: an append-only set of run records, one JSON file per record, at
 * `<model>/<recipe>/<backend>/<device>@<toolchain>/<started_at>-<session>-<role>-<sha8>.json`.
 *
 * Why the content hash in the name: a file is never overwritten, so two different records must
 * never share a name, while appending the same record twice (a retried CI job) must not make a
 * second copy. Naming by content gives both; appending is idempotent.
 */
import { sha256Text } from "../hashing.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";
import { parse, parseJson } from "../validate.ts";

export interface StoredRecord {
  /** Path inside the store, `/`-separated. */
  path: string;
  record: RunRecord;
}

export interface HistoryStore {
  /** Adds records; returns their paths (existing identical ones included). Never overwrites. */
  append(records: readonly RunRecord[]): Promise<string[]>;
  /** Every record, or one cell's, oldest first (by `started_at`, then path). */
  list(cellId?: string): Promise<StoredRecord[]>;
  /** "dir:/x" or "git:/repo#branch", for messages. */
  describe(): string;
}

/** The record as stored: pretty JSON with a trailing newline (diffs well on a data branch). */
export function serialize(record: RunRecord): string {
  return `${JSON.stringify(parse(runRecord, record, `run record ${record.cell.id}`), null, 2)}\n`;
}

/** Where a record lives in the store. */
export function recordPath(record: RunRecord, text = serialize(record)): string {
  const stamp = record.started_at.replaceAll(":", "-");
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");
  const name = `${safe(stamp)}-${safe(record.session)}-${record.role}-${sha256Text(text).slice(0, 8)}.json`;
  return [...record.cell.id.split("/").map(safe), name].join("/");
}

/** The folder of a cell in the store (a cell id maps to nested folders). */
export function cellPrefix(cellId: string): string {
  return cellId
    .split("/")
    .map((s) => s.replace(/[^A-Za-z0-9._@-]/g, "_"))
    .join("/");
}

/** Parses a stored file; a record that fails its schema names the store path. */
export function readStored(path: string, text: string, where: string): StoredRecord {
  return { path, record: parseJson(runRecord, text, `${where}:${path}`) };
}

export function byTime(a: StoredRecord, b: StoredRecord): number {
  return a.record.started_at.localeCompare(b.record.started_at) || a.path.localeCompare(b.path);
}
