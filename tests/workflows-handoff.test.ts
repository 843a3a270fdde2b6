/**
 * The hand-off between a build job and a device job, as the real workflow files wire it: the
 * steps of farm-build.yml and then of farm-device.yml, with the expressions, scripts and action
 * inputs written there, run here (tests/helpers/workflow-job.ts; each job with its own runner.temp,
 * sharing only the artefacts), on the real stages and the shipped tiny model. What it pins: the
 * build artefact carries what the device job needs, and the gate finds the build's step notes, so
 * the run record has every stage of the cell.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { listFiles } from "../actions/src/hashing.ts";
import { RecordingLogger } from "../actions/src/logger.ts";
import { planOutputs } from "../actions/src/matrix-commands.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/paths.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { parseJson } from "../actions/src/validate.ts";
import { readWorkflows } from "../scripts/lint-workflows.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, realPython, tempDir } from "./helpers/env.ts";
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

describe.skipIf(!ready)("farm-build → farm-device, the workflows' own steps on the real stages", () => {
  it(`a device job restored from farm-build's artefact gates the cell with every build stage's step note${why}`, async () => {
    const root = await tempDir("pte-farm-handoff-");
    const workflows = await readWorkflows();
    const wf = (name: string) => {
      const found = workflows.find((w) => w.name === name);
      if (found === undefined) throw new Error(`no workflow ${name}`);
      return found;
    };
    const plan = await planOutputs({ matrix: DEFAULT_MATRIX, event: "push", logger: new RecordingLogger() });
    const device = (
      plan.devices as { include: { cell: string; build: string; device: string }[] }
    ).include.find((d) => d.cell === CELL);
    const build = (plan.builds as { include: { build: string }[] }).include.find(
      (b) => b.build === device?.build,
    );
    if (device === undefined || build === undefined)
      throw new Error(`test bug: the push plan has no ${CELL}`);
    const sha = (await execa("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT })).stdout.trim();
    const run = (temp: string, inputs: JobContext["inputs"]): JobContext => ({
      inputs,
      sha,
      runnerTemp: path.join(root, temp),
      artifacts: path.join(root, "artifacts"),
      env,
    });

    const buildJob = await runJob(
      wf("farm-build.yml"),
      "build",
      run("build-runner", { job: JSON.stringify(build) }),
    );
    expect(failures(buildJob)).toEqual([]);
    expect(outcomes(buildJob)).toMatchObject({ export: "success", quantize: "success", lower: "success" });
    expect(await listFiles(path.join(root, "artifacts", `build-${build.build}`))).toEqual([
      "build/manifest.json",
      "build/model.pte",
      "build/reference.json",
      "steps/export.json",
      "steps/lower.json",
      "steps/quantize.json",
      "steps/reference.json",
    ]);

    const deviceJob = await runJob(
      wf("farm-device.yml"),
      "cell",
      run("device-runner", {
        job: JSON.stringify(device),
        role: "nightly",
        "artifact-prefix": "nightly",
        compare: false,
      }),
    );
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

    const key = `${device.build}-${device.device}`;
    const file = path.join(root, "artifacts", `nightly-${key}`, key, "run.json");
    const record = parseJson(runRecord, await readFile(file, "utf8"), file);
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
});
