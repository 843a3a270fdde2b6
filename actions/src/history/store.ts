/**
 * The history store: an append-only set of run records and of runner health reports
 * (`pte-farm/health@1`). Three backends share this interface: a folder (`dir:`), a git data
 * branch (`git:`) and PostgreSQL (`postgres`). Every record has an id, its path in the file
 * layout: `<model>/<recipe>/<backend>/<device>@<toolchain>/<started_at>-<session>-<role>-<sha8>.json`
 * (health reports: `_health/<device>/<checked_at>-<state>-<sha8>.json`). In a folder or on a
 * branch a record is that file, or a line of its cell's month file once compacted (layout.ts). No model name can start with `_`
 * (matrix/schema.ts NAME), so the two never share a folder. Health reports live here so a device's
 * quarantine is derived from the same append-only facts as its runs (quarantine.ts).
 *
 * Why the content hash in the name: a file is never overwritten, so two different records must
 * never share a name, while appending the same record twice (a retried CI job) must not make a
 * second copy. Naming by content gives both; appending is idempotent.
 */

import { type BisectRecord, bisectRecord } from "../bisect/record.ts";
import { sha256Text } from "../core/hashing.ts";
import { parse, parseJson } from "../core/validate.ts";
import { type HealthReport, healthReport } from "../schemas/health-report.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";

export interface StoredRecord {
  /** Path inside the store, `/`-separated. */
  path: string;
  record: RunRecord;
}

export interface StoredHealth {
  path: string;
  report: HealthReport;
}

export interface StoredBisect {
  path: string;
  record: BisectRecord;
}

/** What a reader asks for: one cell's or one device's records, of one role, the newest `last` of them. */
export interface RecordQuery {
  cell?: string;
  device?: string;
  role?: RunRecord["role"];
  /** Only the newest N matching records (still handed over oldest first). */
  last?: number;
}

export interface HistoryStore {
  /** Adds records; returns their ids (existing identical ones included). Never overwrites. */
  append(records: readonly RunRecord[]): Promise<string[]>;
  /** Every record, or one cell's, oldest first (by `started_at`, then path). Health reports are not records. */
  list(cellId?: string): Promise<StoredRecord[]>;
  /**
   * The records a query asks for, oldest first, handed over as they are read: PostgreSQL reads
   * them a page at a time, so a reader's memory is what it keeps, not the size of the history.
   */
  query(q?: RecordQuery): AsyncIterable<StoredRecord>;
  /** The ids of the cells that have records, sorted (read from names or an index, not from the records). */
  cells(): Promise<string[]>;
  /** Adds health reports, as {@link append} adds records. */
  appendHealth(reports: readonly HealthReport[]): Promise<string[]>;
  /** Every health report, or one device's, oldest first (by `checked_at`, then path). */
  listHealth(device?: string): Promise<StoredHealth[]>;
  /** Adds bisect records (`pte-farm/bisect@1`: farm-upstream's answers), as {@link append} adds records. */
  appendBisects(records: readonly BisectRecord[]): Promise<string[]>;
  /** Every bisect record, oldest first (by `started_at`, then path). */
  listBisects(): Promise<StoredBisect[]>;
  /** "dir:/x" or "git:/repo#branch", for messages. */
  describe(): string;
}

/** Whether a record answers a query (`last` aside). */
export function matches(q: RecordQuery, r: RunRecord): boolean {
  return (
    (q.cell === undefined || r.cell.id === q.cell) &&
    (q.device === undefined || r.cell.device === q.device) &&
    (q.role === undefined || r.role === q.role)
  );
}

/** A query over a store that reads a cell (or everything) at once: dir: and git: (small farms). */
export async function* queryListed(store: HistoryStore, q: RecordQuery = {}): AsyncIterable<StoredRecord> {
  const hits = (await store.list(q.cell)).filter((s) => matches(q, s.record));
  yield* q.last === undefined ? hits : hits.slice(Math.max(0, hits.length - q.last));
}

/** The cell ids of a file layout's record paths: a record's folder is its cell (`cellPrefix`). */
export function cellsOfPaths(paths: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    if (isAnnexPath(p)) continue;
    const parts = p.split("/");
    if (parts.length === 5) out.add(parts.slice(0, 4).join("/"));
  }
  return [...out].sort();
}

/** Every record a query yields, in order. */
export async function collect(store: HistoryStore, q: RecordQuery = {}): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for await (const s of store.query(q)) out.push(s.record);
  return out;
}

/** The nightly records of each of `cells`, read one cell at a time (what nightly() decides over). */
export async function nightlySeries(store: HistoryStore, cells: Iterable<string>): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const cell of [...new Set(cells)].sort())
    out.push(...(await collect(store, { cell, role: "nightly" })));
  return out;
}

/** The record as stored: pretty JSON with a trailing newline (diffs well on a data branch). */
export function serialize(record: RunRecord): string {
  return `${JSON.stringify(parse(runRecord, record, `run record ${record.cell.id}`), null, 2)}\n`;
}

/** Where a record lives in the store. */
export function recordPath(record: RunRecord, text = serialize(record)): string {
  return `${recordStem(record)}${sha256Text(text).slice(0, 8)}.json`;
}

const UNSAFE = /[^A-Za-z0-9._@-]/g;
const safe = (s: string) => s.replace(UNSAFE, "_");

// The last cell's folder: a listing is mostly one cell's records.
let lastCell = { id: "", folder: "" };

/** A record's id up to its content hash: records whose stems differ have different ids. */
function recordStem(record: RunRecord): string {
  if (record.cell.id !== lastCell.id)
    lastCell = { id: record.cell.id, folder: record.cell.id.split("/").map(safe).join("/") };
  const stamp = record.started_at.replaceAll(":", "-");
  return `${lastCell.folder}/${safe(stamp)}-${safe(record.session)}-${record.role}-`;
}

/** Records whose ids are computed when first read ({@link lazyStored}). */
const LAZY = new WeakSet<StoredRecord>();

/**
 * A record read from a month file, whose id is the sha256 of its serialized text. Hashing every
 * record costs as much as reading it, and most readers (the dashboard) use few ids, so the id is
 * computed the first time `path` is read. `record` must be the schema's shape (what {@link parse}
 * returns): its pretty JSON is then {@link serialize}'s text without checking it again. Like every
 * listed record, it must not be changed (no reader does): its id would change with it.
 */
export function lazyStored(record: RunRecord): StoredRecord {
  let id: string | undefined;
  const stored: StoredRecord = {
    get path() {
      id ??= recordPath(record, `${JSON.stringify(record, null, 2)}\n`);
      return id;
    },
    record,
  };
  LAZY.add(stored);
  return stored;
}

/**
 * Documents as the files a folder or a data branch stores them in: each one's text and its
 * content-addressed path (run records, health reports, bisect records alike).
 */
export function storedFiles<T>(
  docs: readonly T[],
  text: (d: T) => string,
  pathOf: (d: T, text: string) => string,
): { path: string; text: string }[] {
  return docs.map((d) => {
    const t = text(d);
    return { path: pathOf(d, t), text: t };
  });
}

/** The store's folder of health reports; `_` cannot start a model name, so no cell lives here. */
export const HEALTH_DIR = "_health";

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");

export function serializeHealth(report: HealthReport): string {
  return `${JSON.stringify(parse(healthReport, report, `health report ${report.device}`), null, 2)}\n`;
}

export function healthPath(report: HealthReport, text = serializeHealth(report)): string {
  const stamp = safeName(report.checked_at.replaceAll(":", "-"));
  return `${HEALTH_DIR}/${safeName(report.device)}/${stamp}-${report.state}-${sha256Text(text).slice(0, 8)}.json`;
}

/** The folder of one device's health reports, or of all of them. */
export function healthPrefix(device?: string): string {
  return device === undefined ? HEALTH_DIR : `${HEALTH_DIR}/${safeName(device)}`;
}

export function isHealthPath(p: string): boolean {
  return p.startsWith(`${HEALTH_DIR}/`);
}

/**
 * The store's folder of bisect records (farm-upstream's: which package and release first broke a
 * cell), flat: a farm has a few a month. Named by start time, verdict and content hash.
 */
export const BISECT_DIR = "_bisect";

export function serializeBisect(record: BisectRecord): string {
  return `${JSON.stringify(parse(bisectRecord, record, `bisect record ${record.subject}`), null, 2)}\n`;
}

export function bisectPath(record: BisectRecord, text = serializeBisect(record)): string {
  const stamp = safeName(record.started_at.replaceAll(":", "-"));
  return `${BISECT_DIR}/${stamp}-${record.verdict}-${sha256Text(text).slice(0, 8)}.json`;
}

export function isBisectPath(p: string): boolean {
  return p.startsWith(`${BISECT_DIR}/`);
}

/** A file beside the cells' folders (health reports, bisect records): never a run record. */
export function isAnnexPath(p: string): boolean {
  return isHealthPath(p) || isBisectPath(p);
}

export function readStoredBisect(path: string, text: string, where: string): StoredBisect {
  return { path, record: parseJson(bisectRecord, text, `${where}:${path}`) };
}

export function bisectByTime(a: StoredBisect, b: StoredBisect): number {
  return a.record.started_at.localeCompare(b.record.started_at) || a.path.localeCompare(b.path);
}

export function readStoredHealth(path: string, text: string, where: string): StoredHealth {
  return { path, report: parseJson(healthReport, text, `${where}:${path}`) };
}

export function healthByTime(a: StoredHealth, b: StoredHealth): number {
  return a.report.checked_at.localeCompare(b.report.checked_at) || a.path.localeCompare(b.path);
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

/**
 * Each record once: a record folded into a month file and appended again as its own file (a
 * retried job after a compaction) has the same id in both places.
 */
export function uniqueById(stored: readonly StoredRecord[]): StoredRecord[] {
  // Two records can share an id only when they share its stem (a file's id is its name, so the stem
  // is the name less `<sha8>.json`): only those are hashed.
  const stems = stored.map((s) => (LAZY.has(s) ? recordStem(s.record) : s.path.slice(0, -13)));
  const count = new Map<string, number>();
  for (const stem of stems) count.set(stem, (count.get(stem) ?? 0) + 1);
  const seen = new Set<string>();
  return stored.filter(
    (s, i) => count.get(stems[i] as string) === 1 || (!seen.has(s.path) && seen.add(s.path) !== undefined),
  );
}

export function byTime(a: StoredRecord, b: StoredRecord): number {
  return a.record.started_at.localeCompare(b.record.started_at) || a.path.localeCompare(b.path);
}
