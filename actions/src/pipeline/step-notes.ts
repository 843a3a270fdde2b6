/**
 * Step notes (`<out-dir>/steps/<stage>.json`, `pte-farm/step@1`): what a stage action leaves for
 * the gate action, which builds the run record. In `pte-farm run` one process sees every stage;
 * in a workflow the stages run in separate steps and jobs (build on a hosted runner, execute on
 * the device), so each says how it went — outcome, cache, wall time, failure triage — in a small
 * file the workflow carries along with the artefacts.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../core/errors.ts";
import { inRunOutput } from "../core/paths.ts";
import {
  arr,
  type Infer,
  literal,
  nullable,
  num,
  obj,
  parseJson,
  str,
  ValidationError,
} from "../core/validate.ts";
import type { TelemetrySample } from "../records/host-info.ts";
import { failureNote, STAGE_OUTCOMES, telemetrySample } from "../schemas/run-record.ts";
import { STAGES, type StageName } from "../schemas/stage.ts";
import type { Step } from "./step-runner.ts";

export const stepNote = obj({
  schema: literal("pte-farm/step@1"),
  stage: literal(...STAGES),
  label: str,
  outcome: literal(...STAGE_OUTCOMES),
  cache: literal("hit", "miss", "shared", "off"),
  wall_s: num,
  dir: str,
  log: nullable(str),
  started_at: str,
  finished_at: str,
  failure: nullable(failureNote),
  /** The orchestrator's readings around execute; empty for the build stages. */
  telemetry: arr(telemetrySample),
});
export type StepNote = Infer<typeof stepNote>;

export function stepsDir(outDir: string): string {
  return path.join(outDir, "steps");
}

/** Writes the note for `step` (replacing an earlier attempt's). */
export async function writeStepNote(
  outDir: string,
  step: Step,
  startedAt: string,
  telemetry: TelemetrySample[] = [],
): Promise<string> {
  const note: StepNote = {
    schema: "pte-farm/step@1",
    stage: step.stage,
    label: step.label,
    outcome: step.kind,
    cache: step.cache,
    wall_s: Math.round(step.wallMs) / 1000,
    // Relative to the job's output folder: the notes travel to the device job, whose folder differs.
    dir: inRunOutput(outDir, step.dir),
    log: step.logPath === null ? null : inRunOutput(outDir, step.logPath),
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    failure: step.failure,
    telemetry,
  };
  const file = path.join(stepsDir(outDir), `${step.stage}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(note, null, 2)}\n`);
  return file;
}

/** Every note in `<outDir>/steps/`, in pipeline order; none when the folder does not exist. */
export async function readStepNotes(outDir: string): Promise<StepNote[]> {
  const dir = stepsDir(outDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const notes: StepNote[] = [];
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    const file = path.join(dir, name);
    try {
      notes.push(parseJson(stepNote, await readFile(file, "utf8"), file));
    } catch (err) {
      if (err instanceof ValidationError) throw new ConfigurationError(`step note ${err.message}`);
      throw err;
    }
  }
  const order = (s: StageName) => STAGES.indexOf(s);
  return notes.sort((a, b) => order(a.stage) - order(b.stage));
}

/** A note as the pipeline's Step, for buildRunRecord (which reads only these fields). */
export function stepFromNote(note: StepNote): Step {
  return {
    stage: note.stage,
    label: note.label,
    kind: note.outcome,
    cache: note.cache,
    dir: note.dir,
    logPath: note.log,
    wallMs: note.wall_s * 1000,
    result: null,
    data: null,
    reason: null,
    failure: note.failure,
  };
}
