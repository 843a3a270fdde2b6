/**
 * Quarantine in CI: farm-nightly's and farm-pr's plan jobs read the `pte-farm-data` branch and
 * give a quarantined device no jobs. The jobs' own steps run here (tests/helpers/workflow-job.ts),
 * the plan action under @github/local-action, with the data branch emulated by a folder written
 * by the farm's own history store; a run without the branch plans every device and warns.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { PostgresStore } from "../actions/src/history/postgres.ts";
import type { HealthReport } from "../actions/src/schemas/health-report.ts";
import { readWorkflows } from "../scripts/lint-workflows.ts";
import { startPostgres } from "../scripts/throwaway-postgres.ts";
import type { WorkflowFile } from "../scripts/workflow-policy/workflow.ts";
import { tempDir } from "./helpers/env.ts";
import { type JobContext, runJob, type StepRun } from "./helpers/workflow-job.ts";

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

const step = (runs: StepRun[], id: string) => {
  const found = runs.find((r) => r.step === id);
  if (found === undefined) throw new Error(`no step ${id} in ${runs.map((r) => r.step).join(", ")}`);
  return found;
};
const devicesOf = (runs: StepRun[]) =>
  (JSON.parse(step(runs, "plan").outputs.devices ?? "{}") as { include: Planned[] }).include;

describe("the workflows' plan jobs read device states from pte-farm-data", () => {
  let workflows: WorkflowFile[];
  let dataBranch: string;
  let pr: JobContext["event"];

  const wf = (name: string) => {
    const found = workflows.find((w) => w.name === name);
    if (found === undefined) throw new Error(`no workflow ${name}`);
    return found;
  };
  const job = async (branches: Record<string, string>, event?: JobContext["event"]): Promise<JobContext> => {
    const root = await tempDir("pte-farm-plan-job-");
    await mkdir(path.join(root, "workspace"));
    return {
      inputs: {},
      sha: "0".repeat(40),
      runnerTemp: path.join(root, "temp"),
      artifacts: path.join(root, "artifacts"),
      env: {},
      workspace: path.join(root, "workspace"),
      branches,
      ...(event === undefined ? {} : { event }),
    };
  };

  beforeAll(async () => {
    workflows = await readWorkflows();
    // Shared by the tests (tempDir removes its folders after each one).
    dataBranch = await mkdtemp(path.join(tmpdir(), "pte-farm-data-"));
    await new LocalFolderStore(dataBranch).appendHealth([BAD_PI5]);
    // A pull request from the repository's first commit to HEAD: every path changed, every cell affected.
    const git = (...args: string[]) => execa("git", args, { cwd: REPO_ROOT }).then((r) => r.stdout.trim());
    const [base] = (await git("rev-list", "--max-parents=0", "HEAD")).split("\n");
    pr = {
      name: "pull_request",
      payload: { pull_request: { base: { sha: base ?? "" }, head: { sha: await git("rev-parse", "HEAD") } } },
    };
  });

  afterAll(async () => {
    if (dataBranch) await rm(dataBranch, { recursive: true, force: true });
  });

  it("farm-nightly gives a device quarantined in the data branch no jobs, and lists its cells as skipped", async () => {
    const runs = await runJob(wf("farm-nightly.yml"), "plan", await job({ "pte-farm-data": dataBranch }));
    expect(runs.map((r) => [r.step, r.outcome])).toContainEqual(["history", "success"]);
    expect(step(runs, "plan").outcome).toBe("success");
    expect(step(runs, "Planned without device states").outcome).toBe("skipped");
    const devices = devicesOf(runs);
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.map((d) => d.device)).not.toContain("pi5");
    const skipped = JSON.parse(step(runs, "plan").outputs.skipped ?? "[]") as {
      cell: string;
      reason: string;
    }[];
    expect(skipped).toContainEqual(
      expect.objectContaining({ cell: "tiny-llama/8da4w-g32/xnnpack/pi5@stable", reason: WHY }),
    );
  });

  it("farm-nightly without a data branch (the first night) plans every device and warns that it could not check", async () => {
    const runs = await runJob(wf("farm-nightly.yml"), "plan", await job({}));
    expect(step(runs, "history").outcome).toBe("failure");
    expect(step(runs, "plan").outcome).toBe("success");
    expect(step(runs, "Planned without device states")).toMatchObject({
      outcome: "success",
      log: expect.stringContaining("::warning::no pte-farm-data branch"),
    });
    expect(devicesOf(runs).map((d) => d.device)).toContain("pi5");
  });

  it("farm-nightly with the PostgreSQL store (PTE_FARM_HISTORY=postgres) reads the states from the database, checking out no branch", async () => {
    const server = await startPostgres();
    try {
      const url = await server.database("farm");
      const store = new PostgresStore(url);
      await store.appendHealth([BAD_PI5]);
      await store.close();
      const ctx = {
        ...(await job({})),
        vars: { PTE_FARM_HISTORY: "postgres" },
        secrets: { PTE_FARM_HISTORY_URL: url },
      };
      const runs = await runJob(wf("farm-nightly.yml"), "plan", ctx);
      expect(step(runs, "history").outcome).toBe("skipped");
      expect(step(runs, "Planned without device states").outcome).toBe("skipped");
      expect(step(runs, "plan").outcome, step(runs, "plan").log).toBe("success");
      expect(step(runs, "plan").log).not.toContain(server.password);
      expect(devicesOf(runs).map((d) => d.device)).not.toContain("pi5");
      expect(JSON.parse(step(runs, "plan").outputs.skipped ?? "[]")).toContainEqual(
        expect.objectContaining({ cell: "tiny-llama/8da4w-g32/xnnpack/pi5@stable", reason: WHY }),
      );
    } finally {
      await server.stop();
    }
  });

  it("farm-pr gives a device quarantined in the data branch no jobs", async () => {
    const runs = await runJob(wf("farm-pr.yml"), "plan", await job({ "pte-farm-data": dataBranch }, pr));
    expect(step(runs, "plan").outcome, step(runs, "plan").log).toBe("success");
    const devices = devicesOf(runs);
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.map((d) => d.device)).not.toContain("pi5");
    const held = await runJob(wf("farm-pr.yml"), "plan", await job({}, pr));
    expect(devicesOf(held).map((d) => d.device)).toContain("pi5");
  });
});
