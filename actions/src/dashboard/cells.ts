/**
 * The dashboard's cell pages: each cell's records read from the store (`list`, one cell at a
 * time), digested (reports/dashboard/cell-page.ts) and written as the cell's data file and its
 * newest run records. Reading and checking a million records is the build's cost, so the cells
 * are shared between worker threads, each with its own store handle ({@link inWorker}); a small
 * history is read in-process.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type CellContext, digestCell } from "../../../reports/dashboard/cell-page.ts";
import { FarmPages, type FarmSnapshot } from "../../../reports/dashboard/farm-pages.ts";
import { type CellPage, dataFile, type OverviewCell } from "../../../reports/dashboard/model.ts";
import { ConfigurationError } from "../core/errors.ts";
import { consoleLogger, type Logger } from "../core/logger.ts";
import { ValidationError } from "../core/validate.ts";
import { openStoreOrFolder } from "../history/open.ts";
import { type StoredRecord, serialize } from "../history/store.ts";

/** One thread's share: the cells (as the store lists them) to read and where to write. */
export interface CellsJob {
  spec: string;
  cells: string[];
  out: string;
  ctx: CellContext;
  env: NodeJS.ProcessEnv;
}

export interface CellsShare {
  overview: OverviewCell[];
  records: number;
  farm: FarmSnapshot;
}

/** A record that fails its schema, or a file that cannot be read, is the history's problem: exit 2. */
export async function readable<T>(where: string, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ConfigurationError(
        `--history ${where}: ${what}: a record fails its schema (${err.message}); fix or remove it, then build again`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EISDIR" || code === "ENOTDIR") {
      throw new ConfigurationError(
        `--history ${where}: ${what}: cannot read it (${code}); check the store's files and permissions`,
      );
    }
    throw err;
  }
}

function byCell(stored: readonly StoredRecord[]): Map<string, StoredRecord[]> {
  const out = new Map<string, StoredRecord[]>();
  for (const s of stored) {
    const list = out.get(s.record.cell.id);
    if (list === undefined) out.set(s.record.cell.id, [s]);
    else list.push(s);
  }
  return out;
}

async function writeCell(out: string, page: CellPage, newest: readonly StoredRecord[]): Promise<void> {
  await writeFile(path.join(out, "data", "cells", `${page.cell.key}.js`), dataFile("cell", page));
  const dir = path.join(out, "records", page.cell.key);
  await mkdir(dir, { recursive: true });
  await Promise.all(newest.map((s, i) => writeFile(path.join(dir, `${i}.json`), serialize(s.record))));
}

/** Reads, digests and writes the job's cells in this thread. */
export async function digestCells(job: CellsJob, logger: Logger): Promise<CellsShare> {
  const store = openStoreOrFolder(job.spec, job.env);
  const pages = new FarmPages();
  const overview: OverviewCell[] = [];
  let records = 0;
  for (const [i, folder] of job.cells.entries()) {
    const stored = await readable(store.describe(), `cell ${folder}`, () => store.list(folder));
    // A folder holds every cell whose id cleans to its name (cells() reads names, not records).
    for (const group of byCell(stored).values()) {
      const { page, newest } = digestCell(group, job.ctx);
      for (const s of group) pages.add(s.record);
      await writeCell(job.out, page, newest);
      overview.push(page.cell);
      records += group.length;
    }
    if ((i + 1) % 50 === 0)
      logger.info(`dashboard: ${i + 1}/${job.cells.length} cells of this share, ${records} records`);
  }
  await (store as { close?: () => Promise<void> }).close?.();
  return { overview, records, farm: pages.snapshot() };
}

type Reply = { ok: CellsShare } | { configuration: string } | { error: string };

/** Runs {@link digestCells} on a worker thread; its bad-input errors stay bad input. */
export function inWorker(job: CellsJob): Promise<CellsShare> {
  return new Promise((resolve, reject) => {
    // A larger young generation: reading records allocates many short-lived objects, and the
    // default one makes the collector run several times as often.
    const worker = new Worker(new URL(import.meta.url), {
      workerData: job,
      env: job.env,
      resourceLimits: { maxYoungGenerationSizeMb: 96 },
    });
    worker.once("message", (reply: Reply) => {
      if ("ok" in reply) resolve(reply.ok);
      else if ("configuration" in reply) reject(new ConfigurationError(reply.configuration));
      else reject(new Error(reply.error));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`dashboard worker exited ${code}`));
    });
  });
}

// In a worker thread started by inWorker: do the share and post it back.
if (!isMainThread && parentPort !== null && (workerData as CellsJob | undefined)?.cells !== undefined) {
  const port = parentPort;
  digestCells(workerData as CellsJob, consoleLogger).then(
    (ok) => port.postMessage({ ok } satisfies Reply),
    (err: unknown) =>
      port.postMessage(
        err instanceof ConfigurationError
          ? ({ configuration: err.message } satisfies Reply)
          : ({ error: (err as Error).stack ?? String(err) } satisfies Reply),
      ),
  );
}
