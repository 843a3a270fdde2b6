/** `pte-farm history` and `pte-farm export` through the real CLI: output, and exit 2 on bad input. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { bisection } from "../scripts/dashboard-histories.ts";
import { tempDir } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const cli = (...args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, cwd: REPO_ROOT });

async function recordFile(dir: string, name: string, over = {}): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(sampleRecord(over)));
  return file;
}

describe("pte-farm history", () => {
  it("appends records to a git data branch and lists them per cell", async () => {
    const dir = await tempDir();
    await execa("git", ["init", "-q", "--bare", path.join(dir, "repo.git")]);
    const a = await recordFile(dir, "a.json", { session: "s-a" });
    const b = await recordFile(dir, "b.json", { session: "s-b", role: "base" });
    const store = `git:${path.join(dir, "repo.git")}#bench-data`;
    const append = await cli("history", "append", "--store", store, a, b);
    expect(append.exitCode, append.stderr).toBe(0);
    expect(append.stdout).toContain(`appended 2 record(s) to ${store}`);
    const list = await cli(
      "history",
      "list",
      "--store",
      store,
      "--cell",
      "tiny-llama/fp32/portable/pi5@stable",
    );
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      /2026-11-23T05:00:00.000Z\thead\tpass\t102.00\ttiny-llama\/fp32\/portable\/pi5@stable\//,
    );
    expect(list.stdout).toContain("2 record(s) in");
  });

  it("appends bisect records (bisect.json, known by their schema) beside run records; a compaction keeps them", async () => {
    const dir = await tempDir();
    const repo = path.join(dir, "repo.git");
    await execa("git", ["init", "-q", "--bare", repo]);
    const run = await recordFile(dir, "run.json", { session: "s-a" });
    const found = bisection("cell tiny-llama/fp32/portable/pi5@latest", "2026-11-24T04:41:00.000Z", {
      package: "executorch",
      last_good: "1.5.0",
      first_bad: "1.5.1",
    });
    const bisectFile = path.join(dir, "bisect.json");
    await writeFile(bisectFile, `${JSON.stringify(found, null, 2)}\n`);
    const store = `git:${repo}`;
    const append = await cli("history", "append", "--store", store, run, bisectFile);
    expect(append.exitCode, append.stderr).toBe(0);
    expect(append.stdout).toContain(`appended 1 record(s) and 1 bisect record(s) to ${store}`);
    // A retried job appends the same files again: nothing new.
    expect((await cli("history", "append", "--store", store, bisectFile)).exitCode).toBe(0);
    const git = new GitBranchStore(repo);
    await git.compact({ before: "2100-01" });
    expect((await git.listBisects()).map((b) => b.record)).toEqual([found]);
    expect((await git.list()).map((s) => s.record.session)).toEqual(["s-a"]);
    expect(await git.cells()).toEqual(["tiny-llama/fp32/portable/pi5@stable"]);

    // A bisect record that fails its schema: exit 2 naming the file and the field; nothing appended.
    const bad = path.join(dir, "bad-bisect.json");
    await writeFile(bad, JSON.stringify({ ...found, verdict: "great" }));
    const other = await recordFile(dir, "other.json", { session: "s-b" });
    const refused = await cli("history", "append", "--store", store, other, bad);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`${bad}: verdict:`);
    expect((await git.list()).map((s) => s.record.session)).toEqual(["s-a"]);
  });

  it("refuses a record that fails its schema with exit 2, naming the file and the field", async () => {
    const dir = await tempDir();
    const bad = await recordFile(dir, "bad.json", { status: "great" });
    const res = await cli("history", "append", "--store", `dir:${dir}/h`, bad);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(`${bad}: status:`);
    expect(res.stderr).toContain("(not a valid pte-farm/run@1 record)");
  });

  it("refuses an unknown store kind with exit 2", async () => {
    const res = await cli("history", "list", "--store", "s3://bucket");
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("expected dir:PATH (a folder), git:REPO[#branch]");
  });
});

describe("pte-farm export", () => {
  it("prints the chosen format as JSON", async () => {
    const dir = await tempDir();
    const res = await cli("export", "--format", "gab-bigger", await recordFile(dir, "r.json"));
    expect(res.exitCode, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)[0]).toMatchObject({ unit: "tok/s", value: 102 });
  });

  it("refuses a record with a lost (NaN) sample with exit 2, naming the metric and rep", async () => {
    const dir = await tempDir();
    const record = sampleRecord();
    const samples = record.metrics.decode_tokens_per_sec?.samples as (number | null)[];
    samples[1] = null;
    const file = path.join(dir, "nan.json");
    await writeFile(file, JSON.stringify(record));
    const res = await cli("export", "--format", "gab-bigger", file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `${file}: metrics.decode_tokens_per_sec.samples[1]: metric decode_tokens_per_sec rep 1 is NaN`,
    );
  });

  it("refuses an unknown format with exit 2, listing the known ones", async () => {
    const dir = await tempDir();
    const res = await cli("export", "--format", "csv", await recordFile(dir, "r.json"));
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("--format csv: expected one of pytorch-v3, gab-bigger, bencher-bmf");
  });
});
