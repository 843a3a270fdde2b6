/**
 * Every reader of the history goes through the store interface, so each gives the same answer
 * from a folder, from a compacted git data branch (month files) and from PostgreSQL (a real
 * throwaway server): the nightly candidates, `detect --store`, the plan's quarantine and the PR
 * base lookup.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { findBaseCommand, nightlyCandidatesCommand } from "../actions/src/cli/workflow.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { HISTORY_URL_ENV, openStore } from "../actions/src/history/open.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { type PgServer, startPostgres } from "../scripts/throwaway-postgres.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const CELL = "tiny-llama/fp32/portable/host@stable";
const PI5_CELL = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";

function night(i: number, level: number): RunRecord {
  const rng = seededRng(100 + i);
  const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
  const startedAt = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
  return { ...record(reps, { session: `night-${i}`, startedAt, gitSha: `sha${i}` }), role: "nightly" };
}

/** A pi5 run that ended in an infrastructure error on the board (three in a row quarantine it). */
function boardInfra(i: number): RunRecord {
  const r = night(50 + i, 10);
  return {
    ...r,
    cell: {
      id: PI5_CELL,
      model: "tiny-llama",
      recipe: "8da4w-g32",
      backend: "xnnpack",
      device: "pi5",
      toolchain: "stable",
    },
    status: "infra-error",
    metrics: {},
    stages: [{ stage: "execute", outcome: "infra-failure", cache: "off", wall_s: 1, dir: "/x", log: null }],
  };
}

const nights = Array.from({ length: 40 }, (_, i) => night(i, i >= 33 ? 8.8 : 10));
const history = [...nights.slice(0, -1), boardInfra(1), boardInfra(2), boardInfra(3)];

let server: PgServer;
const kept: string[] = [];
/** A folder that lives as long as this file's tests (tempDir's go after each test). */
const keptDir = async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pte-farm-stores-"));
  kept.push(dir);
  return dir;
};
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  delete process.env[HISTORY_URL_ENV];
  await server?.stop();
  for (const dir of kept) await rm(dir, { recursive: true, force: true });
});

/** A store holding `history`, by kind; the git one compacted into month files. */
const kinds: [string, () => Promise<string>][] = [
  ["a folder", async () => `dir:${await keptDir()}`],
  [
    "a compacted git data branch",
    async () => {
      const repo = await keptDir();
      await execa("git", ["init", "-q", "--bare", repo]);
      return `git:${repo}`;
    },
  ],
  [
    "PostgreSQL",
    async () => {
      process.env[HISTORY_URL_ENV] = await server.database(`s${Date.now()}`);
      return "postgres";
    },
  ],
];

describe.each(kinds)("readers of the history in %s", (_, make) => {
  let spec: string;
  beforeAll(async () => {
    spec = await make();
    const store = openStore(spec);
    await store.append(history);
    if (store instanceof GitBranchStore) {
      const r = await store.compact({ before: "2100-01" });
      expect(r.folded).toBe(history.length);
    }
  }, 120_000);

  it("a pull request's base is the cell's newest passing nightly", async () => {
    const out = path.join(await tempDir(), "base.json");
    const gh = path.join(await tempDir(), "gh");
    await writeFile(gh, "");
    const base = await findBaseCommand({
      history: spec,
      cell: CELL,
      out,
      logger: new RecordingLogger(),
      env: { GITHUB_OUTPUT: gh },
    });
    expect(base?.session).toBe(`night-38`);
  });

  it("the nightly history job finds the same candidate", async () => {
    const records = await tempDir();
    await mkdir(path.join(records, "a"));
    await writeFile(path.join(records, "a", "run.json"), JSON.stringify(nights.at(-1)));
    const devices = path.join(await tempDir(), "devices.json");
    const entry = { cell: CELL, build: "b-1", device: "host", runs_on: ["self-hosted"] };
    await writeFile(devices, JSON.stringify({ include: [entry] }));
    const out = path.join(await tempDir(), "out");
    await writeFile(out, "");
    const logger = new RecordingLogger();
    const result = await nightlyCandidatesCommand({
      store: spec,
      records,
      devices,
      logger,
      env: { GITHUB_OUTPUT: out },
    });
    expect(result.confirm).toEqual([entry]);
    expect(logger.text()).toContain(`candidate: ${CELL} decode_tokens_per_sec:`);
  });

  it("detect --store finds the change point at night 33", async () => {
    const logger = new RecordingLogger();
    const code = await main(
      ["detect", "--store", spec, "--cell", CELL, "--metric", "decode_tokens_per_sec"],
      logger,
    );
    expect(code).toBe(0);
    const result = JSON.parse(logger.text());
    expect(result.change_points.map((c: { started_at: string }) => c.started_at)).toContain(
      nights[33]?.started_at,
    );
  });

  it("the plan quarantines the board with three infrastructure errors in a row", async () => {
    const logger = new RecordingLogger();
    expect(await main(["plan", "--event", "push", "--history", spec], logger)).toBe(0);
    expect(logger.text()).toContain("device pi5 is quarantined: 3 infrastructure errors in a row");
  });
});
