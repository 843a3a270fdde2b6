/**
 * History in a plain folder (the CLI's default). Each record is written to a temp file in its
 * final folder and then hard-linked to its name: `link` fails when the name exists, so a file is
 * never overwritten and a reader never sees half of one, even with many writers at once.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, mkdir, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BisectRecord } from "../bisect/record.ts";
import { writing } from "../core/disk.ts";
import type { HealthReport } from "../schemas/health-report.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { isLayoutFile, readLayoutFile } from "./layout.ts";
import {
  BISECT_DIR,
  bisectByTime,
  bisectPath,
  byTime,
  cellPrefix,
  cellsOfPaths,
  type HistoryStore,
  healthByTime,
  healthPath,
  healthPrefix,
  isAnnexPath,
  queryListed,
  type RecordQuery,
  readStoredBisect,
  readStoredHealth,
  recordPath,
  type StoredBisect,
  type StoredHealth,
  type StoredRecord,
  serialize,
  serializeBisect,
  serializeHealth,
  storedFiles,
  uniqueById,
} from "./store.ts";

export class LocalFolderStore implements HistoryStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  describe(): string {
    return `dir:${this.root}`;
  }

  async append(records: readonly RunRecord[]): Promise<string[]> {
    return this.write(storedFiles(records, serialize, recordPath));
  }

  async appendHealth(reports: readonly HealthReport[]): Promise<string[]> {
    return this.write(storedFiles(reports, serializeHealth, healthPath));
  }

  async appendBisects(records: readonly BisectRecord[]): Promise<string[]> {
    return this.write(storedFiles(records, serializeBisect, bisectPath));
  }

  async listBisects(): Promise<StoredBisect[]> {
    return (await this.readFiles(BISECT_DIR, readStoredBisect)).sort(bisectByTime);
  }

  private async write(files: readonly { path: string; text: string }[]): Promise<string[]> {
    const out: string[] = [];
    for (const { path: rel, text } of files) {
      const file = path.join(this.root, ...rel.split("/"));
      const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
      try {
        await writing(file, Buffer.byteLength(text), async () => {
          await mkdir(path.dirname(file), { recursive: true });
          await writeFile(tmp, text);
        });
        await link(tmp, file);
      } catch (err) {
        // Same name means same content (the name holds its hash): the file is already there.
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        // A write that ran out of space leaves no half file behind, under any name.
        await unlink(tmp).catch(() => undefined);
      }
      out.push(rel);
    }
    return out;
  }

  /** Layout files under `rel` (store-relative, `/`-separated), except temp files. */
  private async files(rel: string): Promise<string[]> {
    const base = path.join(this.root, ...rel.split("/").filter((p) => p !== ""));
    const entries = await readdir(base, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    return entries
      .map((e) => path.relative(this.root, path.join(base, e)).split(path.sep).join("/"))
      .filter(isLayoutFile);
  }

  /** Each file under `prefix`, read and checked by `read` (health reports, bisect records). */
  private async readFiles<T>(
    prefix: string,
    read: (rel: string, text: string, where: string) => T,
  ): Promise<T[]> {
    const out: T[] = [];
    for (const rel of await this.files(prefix)) {
      out.push(read(rel, await readFile(path.join(this.root, ...rel.split("/")), "utf8"), this.describe()));
    }
    return out;
  }

  async listHealth(device?: string): Promise<StoredHealth[]> {
    return (await this.readFiles(healthPrefix(device), readStoredHealth)).sort(healthByTime);
  }

  async list(cellId?: string): Promise<StoredRecord[]> {
    const rels = await this.files(cellId === undefined ? "" : cellPrefix(cellId));
    const out: StoredRecord[] = [];
    for (const rel of rels) {
      if (cellId === undefined && isAnnexPath(rel)) continue;
      // Read synchronously: a cell is dozens of month files, and fs/promises' readFile costs several
      // times the CPU of readFileSync per file (a fifth of the dashboard's reading, issue 18).
      const text = readFileSync(path.join(this.root, ...rel.split("/")), "utf8");
      out.push(...readLayoutFile(rel, text, this.describe()));
    }
    return uniqueById(out).sort(byTime);
  }

  async cells(): Promise<string[]> {
    return cellsOfPaths(await this.files(""));
  }

  query(q: RecordQuery = {}): AsyncIterable<StoredRecord> {
    return queryListed(this, q);
  }
}
