/**
 * Real release inputs: the build and device artefacts of one cell, made by running the real stage
 * actions under @github/local-action as farm-build.yml and farm-device.yml chain them (export →
 * quantize → lower, then execute → gate with role `release`), and laid out the way
 * actions/download-artifact leaves a run's artefacts in one folder:
 *
 *   build-<build>/build/{model.pte,manifest.json,reference.json}
 *   release-<build>-<device>/<build>-<device>/run.json
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { RecordingLogger } from "../../actions/src/core/logger.ts";
import { DEFAULT_MATRIX } from "../../actions/src/core/paths.ts";
import { planOutputs } from "../../actions/src/plan/outputs.ts";
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";
import { realPython } from "./env.ts";
import { runLocalAction } from "./local-action.ts";

/** The fastest real cell: fp32 + portable on the shipped tiny model. */
export const RELEASE_CELL = "tiny-llama/fp32/portable/host-x86_64@stable";
export const RELEASE_SHA = "0123456789abcdef0123456789abcdef01234567";

export interface ReleaseArtifacts {
  /** The download folder. */
  artifacts: string;
  build: string;
  record: RunRecord;
  /** The build's model.pte inside `artifacts`. */
  pte: string;
}

async function ok(action: Parameters<typeof runLocalAction>[0], inputs: Record<string, string>) {
  const env = { PTE_FARM_PYTHON: realPython, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };
  const run = await runLocalAction(action, inputs, env);
  if (run.exitCode !== 0) throw new Error(`${action} failed (exit ${run.exitCode}):\n${run.stdout}`);
  return run.outputs;
}

/** Runs the real stages for {@link RELEASE_CELL} under `root` and lays out the downloaded artefacts. */
export async function buildReleaseArtifacts(root: string): Promise<ReleaseArtifacts> {
  const plan = await planOutputs({ matrix: DEFAULT_MATRIX, event: "push", logger: new RecordingLogger() });
  const entry = (plan.builds as { include: { build: string; cells: string[] }[] }).include.find((b) =>
    b.cells.includes(RELEASE_CELL),
  );
  if (entry === undefined) throw new Error(`test bug: the push plan has no build for ${RELEASE_CELL}`);
  const build = JSON.stringify(entry);
  const common = {
    "cache-dir": path.join(root, "cache"),
    "out-dir": path.join(root, "job"),
    "timeout-s": "900",
  };
  const exported = await ok("export", { build, ...common });
  const quantized = await ok("quantize", { build, program: exported.program as string, ...common });
  const lowered = await ok("lower", { build, program: quantized.program as string, ...common });
  const files = {
    pte: lowered.pte as string,
    manifest: lowered.manifest as string,
    reference: exported.reference as string,
  };
  const executed = await ok("execute", {
    cell: RELEASE_CELL,
    ...files,
    reps: "6",
    warmup: "0",
    ...common,
  });
  const gated = await ok("gate", {
    cell: RELEASE_CELL,
    reference: files.reference,
    execute: executed.result as string,
    manifest: files.manifest,
    role: "release",
    session: "release-test",
    "git-sha": RELEASE_SHA,
    ...common,
  });

  const artifacts = path.join(root, "download");
  const buildDir = path.join(artifacts, `build-${entry.build}`, "build");
  await mkdir(buildDir, { recursive: true });
  await copyFile(files.pte, path.join(buildDir, "model.pte"));
  await copyFile(files.manifest, path.join(buildDir, "manifest.json"));
  await copyFile(files.reference, path.join(buildDir, "reference.json"));
  const record = JSON.parse(await readFile(gated.record as string, "utf8")) as RunRecord;
  await writeRecord(artifacts, `${entry.build}-${record.cell.device}`, record);
  return { artifacts, build: entry.build, record, pte: path.join(buildDir, "model.pte") };
}

/** Puts a device job's results artefact (`release-<key>/<key>/run.json`) into the download folder. */
export async function writeRecord(artifacts: string, key: string, record: RunRecord): Promise<void> {
  const dir = path.join(artifacts, `release-${key}`, key);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "run.json"), `${JSON.stringify(record, null, 2)}\n`);
}
