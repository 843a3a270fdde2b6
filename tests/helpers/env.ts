/**
 * Shared test setup: temp folders, the fake stage package, and whether the real toolchain and the
 * real stages are available (the end-to-end tests say in their names when they cannot run).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { defaultPython, REPO_ROOT, STAGES_DIR } from "../../actions/src/core/paths.ts";
import type { StageCommand } from "../../actions/src/pipeline/stage-process.ts";
import type { StageName, StageSpec } from "../../actions/src/schemas/stage.ts";

const made: string[] = [];

/** A fresh temp folder, removed after the current test. */
export async function tempDir(prefix = "pte-farm-test-"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Runs the process-control fixtures with any Python 3 (they import nothing beyond the stdlib). */
export const fakeStages: StageCommand = {
  python: process.env.PTE_FARM_PYTHON ?? "python3",
  package: "fake_stages",
  pythonPath: [path.join(REPO_ROOT, "tests", "fixtures", "fake_stages")],
};

/**
 * `ok`, for a test's `skipIf(!…)` on something the environment provides. Outside CI a missing
 * one skips; under CI=true (`.ci/run` sets it) it throws, failing every test file that asks, so
 * `make test` cannot pass having tested little on a checkout where `make setup` broke.
 */
export function required(ok: boolean, what: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!ok && env.CI === "true") {
    throw new Error(
      `${what} is missing under CI=true: \`make setup\` installs it; tests that need it run, never skip`,
    );
  }
  return ok;
}

/** The real toolchain python (PTE_FARM_PYTHON or .venv), if it exists. */
export const realPython = defaultPython();
export const hasRealPython = required(existsSync(realPython), `the toolchain's Python (${realPython})`);

/** Whether the stage module for `stage` is there (it always is in this repository). */
export function hasRealStage(stage: StageName): boolean {
  const file = path.join(STAGES_DIR, "pte_stages", `${stage}.py`);
  return required(existsSync(file), file);
}

export const TINY_LLAMA = path.join(STAGES_DIR, "models", "tiny-llama");
export const hasTinyLlama = required(
  existsSync(path.join(TINY_LLAMA, "config.json")),
  `the shipped model ${TINY_LLAMA}`,
);

/** A complete spec for `stage` with harmless values; override what the test is about. */
export function makeSpec(stage: StageName, over: Partial<StageSpec> = {}): StageSpec {
  return {
    schema: "pte-farm/stage-spec@1",
    stage,
    cell: {
      model: "tiny-llama",
      recipe: "fp32",
      backend: "portable",
      device: "host-x86_64",
      toolchain: "stable",
    },
    model: { id: "tiny-llama", path: TINY_LLAMA, max_seq_len: 128 },
    prompts: ["The capital of France is"],
    max_new_tokens: 8,
    recipe: { name: "fp32", scheme: "fp32" },
    backend: { name: "portable", kind: "portable" },
    inputs: {},
    execute: { warmup: 0, reps: 1, prompt_ids: [] },
    options: {},
    ...over,
  };
}

/**
 * The version the toolchain pins for `name` (stages/requirements.txt, torch included), so a test
 * checks what was installed without hard-coding one toolchain's versions.
 */
export function pinnedVersion(name: string): string {
  const file = path.join(STAGES_DIR, "requirements.txt");
  const text = readFileSync(file, "utf8");
  const m = new RegExp(`^${name}==([^\\s;#]+)`, "m").exec(text);
  if (m === null) throw new Error(`test bug: ${file} pins no ${name}`);
  return m[1] as string;
}
