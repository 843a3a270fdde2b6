/** `pte-farm history` and `pte-farm export` through the real CLI: output, and exit 2 on bad input. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
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
