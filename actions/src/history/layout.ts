/**
 * The file layout a folder store and a git data branch share, and that the workflows read from a
 * checkout of the branch. A record is either its own file (`<cell>/<id>.json`, pretty JSON: how
 * records arrive) or one line of its cell's month file (`<cell>/<YYYY-MM>.jsonl`, compact JSON:
 * what `pte-farm history compact` folds closed months into, so a branch does not grow one file
 * per record without bound). Readers accept both; a record's id is the same in either.
 */
import { parse, parseJson } from "../core/validate.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";
import { cellPrefix, lazyStored, readStored, type StoredRecord } from "./store.ts";

const MONTH_FILE = /(^|\/)\d{4}-\d{2}\.jsonl$/;

/** A file of the layout that holds run records or health reports (temp files excluded). */
export function isLayoutFile(rel: string): boolean {
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  return !base.startsWith(".") && (base.endsWith(".json") || MONTH_FILE.test(rel));
}

export function isMonthFile(rel: string): boolean {
  return MONTH_FILE.test(rel);
}

/** The month file a record is folded into. */
export function monthPath(record: RunRecord): string {
  return `${cellPrefix(record.cell.id)}/${record.started_at.slice(0, 7)}.jsonl`;
}

/** One record as a month file's line (no newline): compact, in the schema's key order. */
export function monthLine(record: RunRecord): string {
  return JSON.stringify(parse(runRecord, record, `run record ${record.cell.id}`));
}

/** The records a layout file holds, each with its id; `where` names the store in errors. */
export function readLayoutFile(rel: string, text: string, where: string): StoredRecord[] {
  if (!isMonthFile(rel)) return [readStored(rel, text, where)];
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line, i) => {
      // parseJson returns the schema's shape (a new object in its key order), as lazyStored needs.
      return lazyStored(parseJson(runRecord, line, `${where}:${rel}:${i + 1}`));
    });
}

/** A month file's text from its lines: each once, oldest first, newline-terminated. */
export function monthText(lines: Iterable<string>): string {
  const unique = [...new Set(lines)];
  const keyed = unique.map((line) => ({ line, at: (JSON.parse(line) as RunRecord).started_at }));
  keyed.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  return keyed.map((k) => `${k.line}\n`).join("");
}
