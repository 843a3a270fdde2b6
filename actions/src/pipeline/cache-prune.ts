/**
 * The build cache stays within a disk budget: after a run, least-recently-used entries are
 * removed until the cache fits (`PTE_FARM_CACHE_BUDGET`, default 20 GiB; a Gemma `.pte` is
 * gigabytes, and a board's disk is small). "Used" is an entry folder's mtime: publishing sets it
 * and every hit touches it (cache.ts). Entries used since `keepSince` (the current run's) are
 * never removed, whatever the budget. Removal is rename-then-delete, as an eviction: a reader
 * sees a whole entry or none.
 */
import { readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { human } from "../core/disk.ts";
import { ConfigurationError } from "../core/errors.ts";

export const CACHE_BUDGET_ENV = "PTE_FARM_CACHE_BUDGET";
export const DEFAULT_CACHE_BUDGET = 20 * 1024 ** 3;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** The budget in bytes from `PTE_FARM_CACHE_BUDGET` ("500MiB", "20G", "1048576"); bad text is exit 2. */
export function cacheBudget(env: NodeJS.ProcessEnv = process.env): number {
  return sizeFromEnv(CACHE_BUDGET_ENV, DEFAULT_CACHE_BUDGET, env);
}

/** A size in bytes from the environment variable `name` (default when unset); bad text is exit 2. */
export function sizeFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name];
  if (text === undefined || text.trim() === "") return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : UNITS[(m[2] as string).toLowerCase()];
  if (m === null || unit === undefined) {
    throw new ConfigurationError(
      `${name}=${text}: expected a size such as 500MiB, 20GiB or a number of bytes`,
    );
  }
  return Math.floor(Number(m[1]) * unit);
}

export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name)).catch(() => null))?.size ?? 0;
  }
  return total;
}

export interface PruneResult {
  entries: number;
  bytes: number;
  removed: string[];
  freed: number;
}

/** Removes least-recently-used entries of the cache at `root` until it fits `budget` bytes. */
export async function pruneCache(root: string, budget: number, keepSince: number): Promise<PruneResult> {
  const entries: { dir: string; used: number; bytes: number }[] = [];
  const base = path.join(root, "entries");
  for (const kind of await readdir(base).catch(() => [] as string[])) {
    for (const shard of await readdir(path.join(base, kind)).catch(() => [] as string[])) {
      for (const key of await readdir(path.join(base, kind, shard)).catch(() => [] as string[])) {
        if (key.includes(".evicted-")) continue;
        const dir = path.join(base, kind, shard, key);
        const s = await stat(dir).catch(() => null);
        if (s?.isDirectory()) entries.push({ dir, used: s.mtimeMs, bytes: await treeBytes(dir) });
      }
    }
  }
  return pruneLeastRecent(entries, budget, keepSince);
}

/**
 * Removes the least-recently-used of `entries` (folders; `used` is when last used) until the rest
 * fit `budget` bytes, never one used since `keepSince`. Rename-then-delete: a reader sees a whole
 * entry or none. The build cache and the toolchain environments both stay within budgets this way.
 */
export async function pruneLeastRecent(
  entries: { dir: string; used: number; bytes: number }[],
  budget: number,
  keepSince: number,
): Promise<PruneResult> {
  let total = entries.reduce((t, e) => t + e.bytes, 0);
  const out: PruneResult = { entries: entries.length, bytes: total, removed: [], freed: 0 };
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= budget || e.used >= keepSince) break;
    const aside = `${e.dir}.evicted-${process.pid}-${Date.now()}`;
    await rename(e.dir, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
    total -= e.bytes;
    out.removed.push(e.dir);
    out.freed += e.bytes;
  }
  return out;
}

/** One line for the log: what was pruned, or nothing. */
export function pruneSummary(r: PruneResult, budget: number): string | null {
  if (r.removed.length === 0) return null;
  return `cache: removed ${r.removed.length} least-recently-used entr${r.removed.length === 1 ? "y" : "ies"} (${human(r.freed)}) to stay within ${human(budget)}`;
}
