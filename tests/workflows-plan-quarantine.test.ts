/**
 * Quarantine in CI: farm-nightly's and farm-pr's plan jobs, run by a real Actions engine (act,
 * tests/helpers/act.ts, `-j plan`), read the `pte-farm-data` branch of the local github.com and
 * give a quarantined device no jobs; without the branch they plan every device and warn. The
 * branch is written by the farm's own history store; the plan action runs as it ships.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { PostgresStore } from "../actions/src/history/postgres.ts";
import type { HealthReport } from "../actions/src/schemas/health-report.ts";
import { startPostgres } from "../scripts/throwaway-postgres.ts";
import {
  type ActOptions,
  type ActRun,
  type ActWorld,
  actWorld,
  deleteBranch,
  filesOf,
  hasAct,
  pushCommit,
  runAct,
} from "./helpers/act.ts";

const BAD_PI5: HealthReport = {
  schema: "pte-farm/health@1",
  device: "pi5",
  toolchain: "stable",
  state: "bad",
  checked_at: "2026-11-23T02:00:00.000Z",
  maintenance: null,
  checks: [
    { name: "throttle", status: "fail", detail: "vcgencmd get_throttled=0x50000: under_voltage_occurred" },
  ],
};
const WHY =
  "quarantined: health check bad at 2026-11-23T02:00:00.000Z (throttle: vcgencmd get_throttled=0x50000: under_voltage_occurred)";

interface Planned {
  cell: string;
  device: string;
}

/** The plan job's step `id` (its outputs, and its result: success, failure or skipped). */
function step(run: ActRun, id: string) {
  const job = run.jobs.find((j) => j.jobID === "plan")?.job ?? "";
  const found = run.steps.find(
    (s) => s.job === job && s.stage === "Main" && (s.stepID === id || s.step === id),
  );
  return { result: found?.result ?? "skipped", outputs: run.outputs[job]?.[found?.stepID ?? id] ?? {} };
}
const devicesOf = (run: ActRun) =>
  (JSON.parse(step(run, "plan").outputs.devices ?? "{}") as { include: Planned[] }).include;

describe.runIf(hasAct)("the workflows' plan jobs read device states from pte-farm-data (under act)", () => {
  let world: ActWorld;
  let data: Record<string, string>;
  let pr: Pick<ActOptions, "event" | "payload">;
  let runId = 300;

  const plan = (workflow: string, o: Partial<ActOptions> = {}) =>
    runAct(world, {
      event: "schedule",
      payload: { schedule: "0 2 * * *" },
      workflow,
      runId: String(runId++),
      job: "plan",
      ...o,
    });
  const withData = () => pushCommit(world, "pte-farm-data", data, null, "history");

  beforeAll(async () => {
    world = await actWorld();
    const dir = await mkdtemp(path.join(tmpdir(), "pte-farm-data-"));
    await new LocalFolderStore(dir).appendHealth([BAD_PI5]);
    data = await filesOf(dir);
    await rm(dir, { recursive: true, force: true });
    // A pull request from the repository's first commit to the snapshot: every path changed,
    // every cell affected.
    const git = (...args: string[]) => execa("git", args, { cwd: REPO_ROOT }).then((r) => r.stdout.trim());
    const [base] = (await git("rev-list", "--max-parents=0", "HEAD")).split("\n");
    pr = {
      event: "pull_request",
      payload: {
        number: 9,
        pull_request: {
          number: 9,
          head: { sha: world.sha, ref: "pr-9", repo: { full_name: world.repository } },
          base: { sha: base ?? "", ref: "main", repo: { full_name: world.repository } },
        },
      },
    };
  });

  afterAll(() => world?.dispose());

  // @fault quarantine | infrastructure errors for pi5 in the pte-farm-data branch, farm-nightly's plan job under act | no job for the device; its cells are listed as skipped with the quarantine's reason
  it("farm-nightly gives a device quarantined in the data branch no jobs, and lists its cells as skipped", async () => {
    await withData();
    const run = await plan("farm-nightly.yml");
    expect(step(run, "history").result, run.log).toBe("success");
    expect(step(run, "plan").result).toBe("success");
    expect(step(run, "Planned without device states").result).toBe("skipped");
    const devices = devicesOf(run);
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.map((d) => d.device)).not.toContain("pi5");
    const skipped = JSON.parse(step(run, "plan").outputs.skipped ?? "[]") as {
      cell: string;
      reason: string;
    }[];
    expect(skipped).toContainEqual(
      expect.objectContaining({ cell: "tiny-llama/8da4w-g32/xnnpack/pi5@stable", reason: WHY }),
    );
  });

  it("farm-nightly without a data branch (the first night) plans every device and warns that it could not check", async () => {
    await deleteBranch(world, "pte-farm-data").catch(() => undefined);
    const run = await plan("farm-nightly.yml");
    expect(step(run, "history").result, run.log).toBe("failure");
    expect(step(run, "plan").result).toBe("success");
    expect(step(run, "Planned without device states").result).toBe("success");
    expect(run.log).toContain("::warning::no pte-farm-data branch");
    expect(devicesOf(run).map((d) => d.device)).toContain("pi5");
    expect(run.jobs.map((j) => j.result)).toEqual(["success"]);
  });

  it("farm-nightly with the PostgreSQL store (PTE_FARM_HISTORY=postgres) reads the states from the database, checking out no branch", async () => {
    await withData(); // there, but not read
    const server = await startPostgres();
    try {
      const url = await server.database("farm");
      const store = new PostgresStore(url);
      await store.appendHealth([BAD_PI5]);
      await store.close();
      const run = await plan("farm-nightly.yml", {
        vars: { PTE_FARM_HISTORY: "postgres" },
        secrets: { PTE_FARM_HISTORY_URL: url },
      });
      expect(step(run, "history").result).toBe("skipped");
      expect(step(run, "Planned without device states").result).toBe("skipped");
      expect(step(run, "plan").result, run.log).toBe("success");
      expect(run.log).not.toContain(server.password);
      expect(devicesOf(run).map((d) => d.device)).not.toContain("pi5");
      expect(JSON.parse(step(run, "plan").outputs.skipped ?? "[]")).toContainEqual(
        expect.objectContaining({ cell: "tiny-llama/8da4w-g32/xnnpack/pi5@stable", reason: WHY }),
      );
    } finally {
      await server.stop();
    }
  });

  it("farm-pr gives a device quarantined in the data branch no jobs", async () => {
    await withData();
    const run = await plan("farm-pr.yml", pr);
    expect(step(run, "plan").result, run.log).toBe("success");
    const devices = devicesOf(run);
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.map((d) => d.device)).not.toContain("pi5");
    await deleteBranch(world, "pte-farm-data");
    const held = await plan("farm-pr.yml", pr);
    expect(devicesOf(held).map((d) => d.device)).toContain("pi5");
  });
});
