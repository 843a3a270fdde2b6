/**
 * The build cache stays within its disk budget: least-recently-used entries go first, a hit counts
 * as a use, the current run's entries are never removed, and a budget that is not a size is bad
 * input (exit 2).
 */
import { existsSync } from "node:fs";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { BuildCache } from "../actions/src/pipeline/cache.ts";
import { cacheBudget, pruneCache, pruneSummary } from "../actions/src/pipeline/cache-prune.ts";
import { runStage } from "../actions/src/pipeline/stage-process.ts";
import { fakeStages, makeSpec, tempDir } from "./helpers/env.ts";

/** A published-looking entry of `kib` KiB whose last use was `ageS` seconds ago. */
async function entry(cache: BuildCache, key: string, kib: number, ageS: number): Promise<string> {
  const dir = cache.entryDir("export", key);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "program.pt2"), Buffer.alloc(kib * 1024, 1));
  const at = new Date(Date.now() - ageS * 1000);
  await utimes(dir, at, at);
  return dir;
}

describe("cache budget", () => {
  // @fault disk-full | a build cache over its PTE_FARM_CACHE_BUDGET | least-recently-used entries removed until it fits, never the current run's
  it("removes least-recently-used entries until the cache fits, never the current run's", async () => {
    const cache = new BuildCache(await tempDir());
    const oldest = await entry(cache, "aa11", 100, 3000);
    const older = await entry(cache, "bb22", 100, 2000);
    const recent = await entry(cache, "cc33", 100, 1000);
    const mine = await entry(cache, "dd44", 100, 0);
    const runStart = Date.now() - 10_000;

    const r = await pruneCache(cache.root, 250 * 1024, runStart);
    expect(r.removed).toEqual([oldest, older]);
    expect(r.freed).toBe(200 * 1024);
    expect([oldest, older].map(existsSync)).toEqual([false, false]);
    expect([recent, mine].map(existsSync)).toEqual([true, true]);
    expect(pruneSummary(r, 250 * 1024)).toBe(
      "cache: removed 2 least-recently-used entries (200 KiB) to stay within 250 KiB",
    );

    // A budget smaller than this run's own entries removes everything older, but not them.
    const tight = await pruneCache(cache.root, 1, runStart);
    expect(tight.removed).toEqual([recent]);
    expect(existsSync(mine)).toBe(true);
  });

  it("counts a cache hit as a use: the entry looked up last is kept", async () => {
    const cache = new BuildCache(await tempDir());
    const publish = async (key: string) => {
      const tmp = await cache.tempDir("export");
      await runStage("export", {
        command: fakeStages,
        spec: makeSpec("export", { options: { fake: "ok-export" } }),
        dir: tmp,
        timeoutMs: 30_000,
      });
      const dir = await cache.publish("export", key, tmp, {});
      return dir;
    };
    const a = await publish("aa".repeat(32));
    const b = await publish("bb".repeat(32));
    const long = new Date(Date.now() - 3_600_000);
    await utimes(a, long, long);
    await utimes(b, new Date(long.getTime() + 1000), new Date(long.getTime() + 1000));
    // a is older, but a hit makes it the most recently used.
    expect((await cache.lookup("export", "aa".repeat(32)))?.dir).toBe(a);
    const r = await pruneCache(cache.root, 1, Date.now() - 60_000);
    expect(r.removed).toEqual([b]);
    expect(existsSync(a)).toBe(true);
  });

  it("reads PTE_FARM_CACHE_BUDGET as a size, and refuses anything else with exit 2", () => {
    expect(cacheBudget({})).toBe(20 * 1024 ** 3);
    expect(cacheBudget({ PTE_FARM_CACHE_BUDGET: "500MiB" })).toBe(500 * 1024 ** 2);
    expect(cacheBudget({ PTE_FARM_CACHE_BUDGET: "2G" })).toBe(2 * 1024 ** 3);
    expect(cacheBudget({ PTE_FARM_CACHE_BUDGET: "1048576" })).toBe(1048576);
    expect(() => cacheBudget({ PTE_FARM_CACHE_BUDGET: "lots" })).toThrow(ConfigurationError);
    expect(() => cacheBudget({ PTE_FARM_CACHE_BUDGET: "5 parsecs" })).toThrow(
      "expected a size such as 500MiB",
    );
  });
});
