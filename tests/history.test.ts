import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { openStore } from "../actions/src/history/open.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { sampleRecord } from "./helpers/record.ts";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "pte-farm-history-"));
const git = (cwd: string, ...args: string[]) => execa("git", args, { cwd });

function nightly(i: number): RunRecord {
  return sampleRecord({
    session: `night-${String(i).padStart(2, "0")}`,
    role: "nightly",
    started_at: `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T02:00:00.000Z`,
  });
}

const sessions = (records: { record: RunRecord }[]) => records.map((r) => r.record.session).sort();
const expected = (n: number) => Array.from({ length: n }, (_, i) => nightly(i).session).sort();

describe("LocalFolderStore", () => {
  it("stores one file per record under the cell's folder and lists a cell oldest first", async () => {
    const store = new LocalFolderStore(await tmp());
    const paths = await store.append([
      nightly(3),
      nightly(1),
      sampleRecord({ cell: { ...nightly(0).cell, id: "m/r/b/d@t" } }),
    ]);
    expect(paths[0]).toMatch(
      /^tiny-llama\/fp32\/portable\/pi5@stable\/2026-11-04T02-00-00\.000Z-night-03-nightly-[0-9a-f]{8}\.json$/,
    );
    const cell = await store.list("tiny-llama/fp32/portable/pi5@stable");
    expect(sessions(cell)).toEqual(["night-01", "night-03"]);
    expect(cell[0]?.record.session).toBe("night-01");
    expect((await store.list()).length).toBe(3);
  });

  it("never overwrites: appending the same record twice keeps one file, a different one gets its own", async () => {
    const dir = await tmp();
    const store = new LocalFolderStore(dir);
    const [a] = await store.append([nightly(1)]);
    const [again] = await store.append([nightly(1)]);
    const [b] = await store.append([{ ...nightly(1), status: "fail" }]);
    expect(again).toBe(a);
    expect(b).not.toBe(a);
    expect((await readdir(path.join(dir, "tiny-llama/fp32/portable/pi5@stable"))).length).toBe(2);
  });

  it("loses nothing with 20 concurrent writers", async () => {
    const dir = await tmp();
    await Promise.all(Array.from({ length: 20 }, (_, i) => new LocalFolderStore(dir).append([nightly(i)])));
    expect(sessions(await new LocalFolderStore(dir).list())).toEqual(expected(20));
  });

  it("refuses a stored file that is not a run record, naming it", async () => {
    const dir = await tmp();
    await new LocalFolderStore(dir).append([nightly(1)]);
    const cellDir = path.join(dir, "tiny-llama/fp32/portable/pi5@stable");
    await writeFile(path.join(cellDir, "bad.json"), '{"schema": "nope"}');
    await expect(new LocalFolderStore(dir).list()).rejects.toThrow(
      /pi5@stable\/bad\.json: schema: expected one of "pte-farm\/run@1", got "nope"/,
    );
  });
});

describe("GitBranchStore", () => {
  it("appends commits to the data branch without touching the work tree or the user's index", async () => {
    const repo = await tmp();
    await git(repo, "init", "-q", "-b", "main");
    await writeFile(path.join(repo, "README"), "hello\n");
    await git(repo, "add", "README");
    const store = new GitBranchStore(repo);
    await store.append([nightly(1)]);
    await store.append([nightly(2)]);
    expect(sessions(await store.list("tiny-llama/fp32/portable/pi5@stable"))).toEqual([
      "night-01",
      "night-02",
    ]);
    const log = await git(repo, "log", "--format=%s", "pte-farm-data");
    expect(log.stdout.split("\n")).toEqual([
      "history: append 1 run record(s)",
      "history: append 1 run record(s)",
    ]);
    expect((await git(repo, "status", "--porcelain")).stdout).toBe("A  README");
    const stored = await git(repo, "show", `pte-farm-data:${(await store.list())[0]?.path}`);
    expect(JSON.parse(stored.stdout)).toEqual(nightly(1));
  });

  it("loses no record when 20 writers append at once to the same repository (update-ref compare-and-swap)", async () => {
    const repo = await tmp();
    await git(repo, "init", "-q", "--bare");
    await Promise.all(Array.from({ length: 20 }, (_, i) => new GitBranchStore(repo).append([nightly(i)])));
    const all = await new GitBranchStore(repo).list();
    expect(sessions(all)).toEqual(expected(20));
    for (const s of all) expect(s.record).toEqual(nightly(Number(s.record.session.slice(6))));
    const commits = await git(repo, "rev-list", "--count", "pte-farm-data");
    expect(commits.stdout).toBe("20");
  }, 60_000);

  // @fault history-concurrent-writes | 20 writers racing on one git data branch with a 1-attempt bound | the losers fail as infrastructure; only acknowledged records are stored; re-appended, all 20 are there | records 20/20
  it("gives up at its attempt bound under contention, as infrastructure, and acknowledges only what it wrote", async () => {
    const repo = await tmp();
    await git(repo, "init", "-q", "--bare");
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => new GitBranchStore(repo, { maxAttempts: 1 }).append([nightly(i)])),
    );
    const failed = results
      .filter((r) => r.status === "rejected")
      .map((r) => (r as PromiseRejectedResult).reason);
    // One attempt each: the first to publish wins, writers that built on the same tip lose the race.
    expect(failed.length).toBeGreaterThan(0);
    for (const e of failed) {
      expect(e).toBeInstanceOf(InfrastructureError);
      expect(String(e)).toContain("gave up after 1 attempts; the branch kept moving");
    }
    const stored = sessions(await new GitBranchStore(repo).list());
    const ok = results.flatMap((r, i) => (r.status === "fulfilled" ? [nightly(i).session] : []));
    expect(stored).toEqual(ok.sort());
    // Nothing is lost: the jobs that were told they failed append again, and then all 20 are there.
    await Promise.all(
      results.map((r, i) => (r.status === "rejected" ? new GitBranchStore(repo).append([nightly(i)]) : null)),
    );
    expect(sessions(await new GitBranchStore(repo).list())).toEqual(expected(20));
  }, 60_000);

  it("loses no record when 20 clones push to one bare remote at once (rejected pushes retried on the new tip)", async () => {
    const root = await tmp();
    const remote = path.join(root, "remote.git");
    await execa("git", ["init", "-q", "--bare", remote]);
    const clones = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const dir = path.join(root, `clone-${i}`);
        await execa("git", ["clone", "-q", remote, dir]);
        return dir;
      }),
    );
    await Promise.all(clones.map((dir, i) => new GitBranchStore(dir).append([nightly(i)])));
    const fresh = path.join(root, "reader");
    await execa("git", ["clone", "-q", remote, fresh]);
    const all = await new GitBranchStore(fresh).list();
    expect(sessions(all)).toEqual(expected(20));
    for (const s of all) expect(s.record).toEqual(nightly(Number(s.record.session.slice(6))));
    expect((await git(remote, "rev-list", "--count", "pte-farm-data")).stdout).toBe("20");
  }, 120_000);
});

describe("--store", () => {
  it("opens dir: and git: stores, with an optional branch, and refuses anything else", async () => {
    const repo = await tmp();
    expect(openStore("dir:/tmp/h").describe()).toBe("dir:/tmp/h");
    expect(openStore(`git:${repo}#nightly-data`).describe()).toBe(`git:${repo}#nightly-data`);
    expect(openStore(`git:${repo}`).describe()).toBe(`git:${repo}#pte-farm-data`);
    expect(() => openStore("s3://bucket")).toThrow(ConfigurationError);
    expect(() => openStore("git:/nonexistent/repo")).toThrow("/nonexistent/repo does not exist");
  });
});

// Keeps the fixture honest: what a store writes is byte-for-byte what a reader can parse back.
it("stores records as pretty JSON with a trailing newline", async () => {
  const dir = await tmp();
  const [p] = await new LocalFolderStore(dir).append([nightly(5)]);
  const text = await readFile(path.join(dir, p as string), "utf8");
  expect(text).toBe(`${JSON.stringify(nightly(5), null, 2)}\n`);
});
