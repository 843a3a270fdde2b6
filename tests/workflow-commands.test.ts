import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { findBaseCommand, nightlyCandidatesCommand } from "../actions/src/cli/workflow.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const CELL = "tiny-llama/fp32/portable/host@stable";

function night(i: number, level: number, over: Partial<RunRecord> = {}): RunRecord {
  const rng = seededRng(100 + i);
  const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
  const startedAt = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
  return {
    ...record(reps, { session: `night-${i}`, startedAt, gitSha: `sha${i}` }),
    role: "nightly",
    ...over,
  };
}

/** `$GITHUB_OUTPUT` as a file, read back as key → value. */
async function githubOutput(): Promise<{
  env: NodeJS.ProcessEnv;
  read: () => Promise<Record<string, string>>;
}> {
  const file = path.join(await tempDir(), "github_output");
  await writeFile(file, "");
  return {
    env: { GITHUB_OUTPUT: file },
    read: async () =>
      Object.fromEntries(
        (await readFile(file, "utf8"))
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ),
  };
}

describe("findBaseCommand (farm-device.yml, pull requests)", () => {
  it("picks the newest passing nightly record of the cell, and says found=true", async () => {
    const history = await tempDir();
    await new LocalFolderStore(history).append([
      night(1, 10),
      night(2, 10),
      night(3, 10, { status: "infra-error" }),
      night(4, 10, { role: "head", session: "pr-run" }),
    ]);
    const out = path.join(await tempDir(), "work", "base.json");
    const gh = await githubOutput();
    const base = await findBaseCommand({
      history,
      cell: CELL,
      out,
      logger: new RecordingLogger(),
      env: gh.env,
    });
    expect(base?.session).toBe("night-2");
    expect(JSON.parse(await readFile(out, "utf8")).session).toBe("night-2");
    expect(await gh.read()).toEqual({ found: "true" });
  });

  it("says found=false when there is no history (the branch or the cell's folder is absent)", async () => {
    const gh = await githubOutput();
    const logger = new RecordingLogger();
    const out = path.join(await tempDir(), "base.json");
    const base = await findBaseCommand({
      history: path.join(await tempDir(), "absent"),
      cell: CELL,
      out,
      logger,
      env: gh.env,
    });
    expect(base).toBeNull();
    expect(await gh.read()).toEqual({ found: "false" });
    expect(logger.text()).toContain("nothing to compare against");
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });
});

describe("nightlyCandidatesCommand (farm-nightly.yml's history job, against a real git remote)", () => {
  async function setup(nights: RunRecord[]) {
    const origin = await tempDir();
    await execa("git", ["init", "-q", "--bare", origin]);
    const checkout = await tempDir();
    await execa("git", ["clone", "-q", origin, checkout]);
    await new GitBranchStore(checkout).append(nights.slice(0, -1));
    const records = await tempDir();
    await mkdir(path.join(records, "cell-a"));
    await writeFile(path.join(records, "cell-a", "run.json"), JSON.stringify(nights.at(-1)));
    const devices = path.join(await tempDir(), "devices.json");
    const entry = { cell: CELL, build: "b-1", device: "host", runs_on: ["self-hosted", "pi5"] };
    const other = { ...entry, cell: "m/r/b/d@t" };
    await writeFile(devices, JSON.stringify({ include: [entry, other] }));
    return { origin, checkout, records, devices, entry };
  }

  it("appends tonight's record to the pushed data branch and asks to re-run a fresh regression", async () => {
    const nights = Array.from({ length: 40 }, (_, i) => night(i, i >= 33 ? 8.8 : 10));
    const s = await setup(nights);
    const gh = await githubOutput();
    const logger = new RecordingLogger();
    const result = await nightlyCandidatesCommand({
      store: `git:${s.checkout}#pte-farm-data`,
      records: s.records,
      devices: s.devices,
      logger,
      env: gh.env,
    });
    expect(result.appended).toHaveLength(1);
    expect(JSON.parse((await gh.read()).confirm as string)).toEqual({ include: [s.entry] });
    expect(logger.text()).toContain(`candidate: ${CELL} decode_tokens_per_sec:`);
    // The origin (GitHub, in CI) has all 40 nights.
    expect((await new GitBranchStore(s.origin).list(CELL)).length).toBe(40);
  });

  it("asks for nothing on a quiet night", async () => {
    const s = await setup(Array.from({ length: 40 }, (_, i) => night(i, 10)));
    const gh = await githubOutput();
    await nightlyCandidatesCommand({
      store: `git:${s.checkout}#pte-farm-data`,
      records: s.records,
      devices: s.devices,
      logger: new RecordingLogger(),
      env: gh.env,
    });
    expect(await gh.read()).toEqual({ confirm: '{"include":[]}' });
  });

  it("refuses a broken record from tonight, naming it (exit 2 from the script)", async () => {
    const s = await setup(Array.from({ length: 3 }, (_, i) => night(i, 10)));
    await writeFile(path.join(s.records, "cell-a", "run.json"), '{"schema":"pte-farm/run@1"}');
    const run = await execa(
      process.execPath,
      [
        "scripts/nightly-candidates.ts",
        "--store",
        `git:${s.checkout}#pte-farm-data`,
        "--records",
        s.records,
        "--devices",
        s.devices,
      ],
      { reject: false },
    );
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/cell-a\/run\.json: cell: expected an object/);
  });
});
