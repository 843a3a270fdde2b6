/**
 * The git data branch's compaction (one file per cell per month, a new root commit) and
 * `pte-farm history migrate` from a git history to PostgreSQL (a real throwaway server), with
 * real git throughout.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { PostgresStore } from "../actions/src/history/postgres.ts";
import { type StoredRecord, serialize } from "../actions/src/history/store.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { bisection } from "../scripts/dashboard-histories.ts";
import { type PgServer, startPostgres } from "../scripts/throwaway-postgres.ts";
import { tempDir } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";

const git = (cwd: string, ...args: string[]) => execa("git", args, { cwd });
const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");

/** Record `i`: five cells, a run of each every `hours` hours from 1 October 2026. */
function rec(i: number, hours = 1): RunRecord {
  const model = `model-${i % 5}`;
  const day = new Date(Date.UTC(2026, 9, 1) + Math.floor(i / 5) * hours * 3_600_000);
  return sampleRecord({
    cell: {
      id: `${model}/fp32/xnnpack/pi5@stable`,
      model,
      recipe: "fp32",
      backend: "xnnpack",
      device: "pi5",
      toolchain: "stable",
    },
    session: `s${i}`,
    role: "nightly",
    started_at: day.toISOString(),
  });
}

const view = (items: StoredRecord[]) => items.map((s) => `${s.path}\n${serialize(s.record)}`);

describe("history compact (git)", () => {
  it("folds closed months into one file per cell per month, keeps the current month's files, and reads back every record unchanged", async () => {
    const repo = await tempDir();
    await git(repo, "init", "-q", "--bare");
    const store = new GitBranchStore(repo);
    // 60 runs × 5 cells = 300 records, every 36 hours over October, November and December.
    const records = Array.from({ length: 300 }, (_, i) => rec(i, 36));
    for (let b = 0; b < records.length; b += 50) await store.append(records.slice(b, b + 50));
    const before = view(await store.list());
    const months = new Set(records.map((r) => r.started_at.slice(0, 7)));
    expect([...months].sort()).toEqual(["2026-10", "2026-11", "2026-12"]);

    const r = await store.compact();
    const current = records.filter((x) => x.started_at.startsWith("2026-12")).length;
    expect(r.folded).toBe(records.length - current);
    expect(r.months).toBe(5 * 2);
    expect(r.records).toBe(records.length);
    expect(view(await store.list())).toEqual(before);

    const files = (await git(repo, "ls-tree", "-r", "--name-only", "pte-farm-data")).stdout.split("\n");
    expect(files.filter((f) => f.endsWith(".jsonl")).sort()).toEqual(
      [0, 1, 2, 3, 4]
        .flatMap((m) => [
          `model-${m}/fp32/xnnpack/pi5@stable/2026-10.jsonl`,
          `model-${m}/fp32/xnnpack/pi5@stable/2026-11.jsonl`,
        ])
        .sort(),
    );
    expect(files.filter((f) => f.endsWith(".json")).length).toBe(current);
    // A new root commit: the per-record commits are no longer reachable from the branch.
    expect((await git(repo, "rev-list", "--count", "pte-farm-data")).stdout).toBe("1");

    // The workflows read a checkout of the branch as a folder: the same records.
    const checkout = await tempDir();
    await execa("sh", ["-c", `git -C '${repo}' archive pte-farm-data | tar -x -C '${checkout}'`]);
    expect(view(await new LocalFolderStore(checkout).list())).toEqual(before);

    // A retried job appends an October record again: still one copy, folded by the next compaction.
    await store.append([records[0] as RunRecord]);
    expect((await store.list()).length).toBe(records.length);
    const again = await store.compact();
    expect(again).toMatchObject({ folded: 1, months: 1, records: records.length });
    expect(view(await store.list())).toEqual(before);
    expect(await store.compact()).toMatchObject({ folded: 0, commit: null });
  });

  it("loses nothing when 10 clones push appends while the remote is compacted", async () => {
    const origin = await tempDir();
    await git(origin, "init", "-q", "--bare");
    await new GitBranchStore(origin).append(Array.from({ length: 200 }, (_, i) => rec(i)));
    const clones = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const dir = await tempDir();
        await git(dir, "clone", "-q", origin, ".");
        return dir;
      }),
    );
    const compactor = await tempDir();
    await git(compactor, "clone", "-q", origin, ".");
    const late = (w: number) => Array.from({ length: 5 }, (_, i) => rec(10_000 + w * 5 + i));
    await Promise.all([
      ...clones.map((dir, w) => new GitBranchStore(dir, { backoffMs: 5 }).append(late(w))),
      new GitBranchStore(compactor, { backoffMs: 5 }).compact({ before: "2027-01" }),
    ]);
    const all = await new GitBranchStore(origin).list();
    expect(all.length).toBe(200 + 50);
    expect(new Set(all.map((s) => s.path)).size).toBe(250);
  });

  it("refuses to compact anything but a git store, and a --before that is not a month (exit 2)", async () => {
    const dir = await tempDir();
    const a = await execa(process.execPath, [CLI, "history", "compact", "--store", `dir:${dir}`], {
      reject: false,
    });
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toContain("only git: stores are compacted");
    await git(dir, "init", "-q");
    const b = await execa(
      process.execPath,
      [CLI, "history", "compact", "--store", `git:${dir}`, "--before", "2026-13"],
      {
        reject: false,
      },
    );
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toContain("expected a month, YYYY-MM");
  });
});

describe("history migrate (git → PostgreSQL)", () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("moves a git history of 10,000 records (month files and record files) without loss, checked by count and content hash", async () => {
    const repo = await mkdtemp(path.join(os.tmpdir(), "pte-farm-migrate-"));
    await git(repo, "init", "-q", "--bare");
    const store = new GitBranchStore(repo);
    const records = Array.from({ length: 10_000 }, (_, i) => rec(i));
    for (let b = 0; b < records.length; b += 1000) await store.append(records.slice(b, b + 1000));
    await store.compact({ before: "2026-12" });
    await store.appendHealth([
      {
        schema: "pte-farm/health@1",
        device: "pi5",
        toolchain: "stable",
        state: "good",
        checked_at: "2026-12-01T00:00:00.000Z",
        maintenance: null,
        checks: [],
      },
    ]);
    await store.appendBisects([
      bisection("cell tiny-llama/fp32/portable/pi5@latest", "2026-12-02T04:41:00.000Z", {
        package: "executorch",
        last_good: "1.5.0",
        first_bad: "1.5.1",
      }),
    ]);
    const source = await store.list();
    expect(source.length).toBe(10_000);

    const url = await server.database("migrated");
    const run = () =>
      execa(process.execPath, [CLI, "history", "migrate", "--from", `git:${repo}`, "--to", "postgres"], {
        reject: false,
        env: { PTE_FARM_HISTORY_URL: url },
      });
    const first = await run();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr + first.stdout).toMatch(
      /migrated 10000 record\(s\), 1 health report\(s\) and 1 bisect record\(s\).*content hash [0-9a-f]{64} on both sides/,
    );
    expect(first.stderr + first.stdout).not.toContain(server.password);

    const target = new PostgresStore(url);
    const back = await target.list();
    expect(back.map((s) => s.path).sort()).toEqual(source.map((s) => s.path).sort());
    const text = new Map(source.map((s) => [s.path, serialize(s.record)]));
    for (const s of back) expect(serialize(s.record)).toBe(text.get(s.path));
    expect((await target.listHealth()).length).toBe(1);
    expect((await target.listBisects()).map((b) => b.path)).toEqual(
      (await store.listBisects()).map((b) => b.path),
    );

    // Run again (an interrupted migration is resumed so): nothing added, same hash.
    const second = await run();
    expect(second.exitCode).toBe(0);
    expect(await target.count()).toBe(10_000);
    const hash = (s: string) => /content hash ([0-9a-f]{64})/.exec(s)?.[1];
    expect(hash(second.stderr + second.stdout)).toBe(hash(first.stderr + first.stdout));
    await target.close();
  }, 600_000);
});
