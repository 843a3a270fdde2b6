/**
 * History in a plain folder (the CLI's default). Each record is written to a temp file in its
 * final folder and then hard-linked to its name: `link` fails when the name exists, so a file is
 * never overwritten and a reader never sees half of one, even with many writers at once.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RunRecord } from "../schemas/run-record.ts";
import {
  byTime,
  cellPrefix,
  type HistoryStore,
  readStored,
  recordPath,
  type StoredRecord,
  serialize,
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
    const out: string[] = [];
    for (const record of records) {
      const text = serialize(record);
      const rel = recordPath(record, text);
      const file = path.join(this.root, ...rel.split("/"));
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
      await writeFile(tmp, text);
      try {
        await link(tmp, file);
      } catch (err) {
        // Same name means same content (the name holds its hash): the record is already there.
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        await unlink(tmp);
      }
      out.push(rel);
    }
    return out;
  }

  async list(cellId?: string): Promise<StoredRecord[]> {
    const base = cellId === undefined ? this.root : path.join(this.root, ...cellPrefix(cellId).split("/"));
    const entries = await readdir(base, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    const files = entries.filter((e) => e.endsWith(".json") && !path.basename(e).startsWith("."));
    const out: StoredRecord[] = [];
    for (const f of files) {
      const abs = path.join(base, f);
      const rel = path.relative(this.root, abs).split(path.sep).join("/");
      out.push(readStored(rel, await readFile(abs, "utf8"), this.describe()));
    }
    return out.sort(byTime);
  }
}
