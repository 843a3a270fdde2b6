/**
 * The hand-off between a build job and a device job, as the real workflow files wire it: the
 * steps of farm-build.yml and then of farm-device.yml, with the expressions, scripts and action
 * inputs written there, run here (tests/helpers/workflow-job.ts; each job with its own runner.temp,
 * sharing only the artefacts), on the real stages and the shipped tiny model. What it pins: the
 * build artefact carries what the device job needs, the gate finds the build's step notes, so
 * the run record has every stage of the cell, and a failed execute still leaves a record that is
 * uploaded.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listFiles } from "../actions/src/core/hashing.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { planOutputs } from "../actions/src/plan/outputs.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { readWorkflows } from "../scripts/lint-workflows.ts";
import type { WorkflowFile } from "../scripts/workflow-policy/workflow.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, realPython } from "./helpers/env.ts";
import { type JobContext, runJob, type StepRun } from "./helpers/workflow-job.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready
  ? ""
  : " [SKIPPED here: needs .venv (make setup), stages/pte_stages/*.py and stages/models/tiny-llama]";
const CELL = "tiny-llama/fp32/portable/host-x86_64@stable";
const env = { PTE_FARM_PYTHON: realPython, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };

const outcomes = (runs: StepRun[]) => Object.fromEntries(runs.map((r) => [r.step, r.outcome]));
const failures = (runs: StepRun[]) =>
  runs.filter((r) => r.outcome === "failure").map((r) => `${r.step}:\n${r.log.slice(-3000)}`);

interface PlanEntry {
  cell: string;
  build: string;
  device: string;
}

describe.skipIf(!ready)("farm-build → farm-device, the workflows' own steps on the real stages", () => {
  let root: string;
  let workflows: WorkflowFile[];
  let device: PlanEntry;
  let sha: string;
  let buildJob: StepRun[];

  const wf = (name: string) => {
    const found = workflows.find((w) => w.name === name);
    if (found === undefined) throw new Error(`no workflow ${name}`);
    return found;
  };
  /** One job's context: its own runner.temp, the run's artefacts folder. */
  const job = (temp: string, inputs: JobContext["inputs"], artifacts = "artifacts"): JobContext => ({
    inputs,
    sha,
    runnerTemp: path.join(root, temp),
    artifacts: path.join(root, artifacts),
    env,
  });
  const deviceInputs = { job: "", role: "nightly", "artifact-prefix": "nightly", compare: false };
  const recordOf = async (artifacts: string) => {
    const key = `${device.build}-${device.device}`;
    const file = path.join(root, artifacts, `nightly-${key}`, key, "run.json");
    return parseJson(runRecord, await readFile(file, "utf8"), file);
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pte-farm-handoff-"));
    workflows = await readWorkflows();
    sha = (await execa("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT })).stdout.trim();
    const plan = await planOutputs({ matrix: DEFAULT_MATRIX, event: "push", logger: new RecordingLogger() });
    const found = (plan.devices as { include: PlanEntry[] }).include.find((d) => d.cell === CELL);
    const build = (plan.builds as { include: { build: string }[] }).include.find(
      (b) => b.build === found?.build,
    );
    if (found === undefined || build === undefined) throw new Error(`test bug: the push plan has no ${CELL}`);
    device = found;
    deviceInputs.job = JSON.stringify(device);
    if (ready) {
      buildJob = await runJob(
        wf("farm-build.yml"),
        "build",
        job("build-runner", { job: JSON.stringify(build) }),
      );
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it(`the build job uploads the .pte, its manifest, the reference and every stage's step note${why}`, async () => {
    expect(failures(buildJob)).toEqual([]);
    expect(outcomes(buildJob)).toMatchObject({ export: "success", quantize: "success", lower: "success" });
    expect(await listFiles(path.join(root, "artifacts", `build-${device.build}`))).toEqual([
      "build/manifest.json",
      "build/model.pte",
      "build/reference.json",
      "steps/export.json",
      "steps/lower.json",
      "steps/quantize.json",
      "steps/reference.json",
    ]);
  });

  it(`a device job restored from that artefact gates the cell with every build stage's step note${why}`, async () => {
    const deviceJob = await runJob(wf("farm-device.yml"), "cell", job("device-runner", deviceInputs));
    expect(failures(deviceJob)).toEqual([]);
    expect(outcomes(deviceJob)).toMatchObject({
      approved: "success",
      download: "success",
      health: "success",
      execute: "success",
      gate: "success",
      base: "skipped",
      compare: "skipped",
    });
    const record = await recordOf("artifacts");
    expect(record).toMatchObject({ role: "nightly", status: "pass", git_sha: sha });
    expect(record.cell.id).toBe(CELL);
    // The build's four notes came with the artefact; execute's was written next to them.
    expect(record.stages.map((s) => [s.stage, s.outcome])).toEqual([
      ["reference", "ok"],
      ["export", "ok"],
      ["quantize", "ok"],
      ["lower", "ok"],
      ["execute", "ok"],
    ]);
    expect(record.toolchain.build?.executorch).toBe(record.toolchain.device?.executorch);
  });

  it(`after a failed execute the gate still runs, and its infra-error record is uploaded${why}`, async () => {
    // The same build, with a .pte that is not the one its manifest describes.
    const artefact = `build-${device.build}`;
    await cp(path.join(root, "artifacts", artefact), path.join(root, "corrupt-artifacts", artefact), {
      recursive: true,
    });
    const pte = path.join(root, "corrupt-artifacts", artefact, "build", "model.pte");
    const bytes = await readFile(pte);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(pte, bytes);

    const deviceJob = await runJob(
      wf("farm-device.yml"),
      "cell",
      job("corrupt-device-runner", deviceInputs, "corrupt-artifacts"),
    );
    expect(outcomes(deviceJob)).toMatchObject({
      health: "success",
      execute: "failure",
      gate: "failure",
      "Collect the results": "success",
    });
    const record = await recordOf("corrupt-artifacts");
    expect(record).toMatchObject({ status: "infra-error", gate: null });
    expect(record.failure).toMatchObject({ stage: "execute", outcome: "infra-failure" });
    expect(record.stages.map((s) => [s.stage, s.outcome])).toEqual([
      ["reference", "ok"],
      ["export", "ok"],
      ["quantize", "ok"],
      ["lower", "ok"],
      ["execute", "infra-failure"],
    ]);
  });

  it(`a device job whose checkout is not the approved SHA runs no pte-farm step, the gate included${why}`, async () => {
    const context = { ...job("unapproved-runner", deviceInputs), sha: "0".repeat(40) };
    const deviceJob = await runJob(wf("farm-device.yml"), "cell", context);
    expect(outcomes(deviceJob)).toMatchObject({
      approved: "failure",
      health: "skipped",
      execute: "skipped",
      gate: "skipped",
      compare: "skipped",
    });
  });
});
