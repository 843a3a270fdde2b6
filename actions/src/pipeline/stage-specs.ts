/**
 * One stage of one cell, as both callers need it: `pte-farm run` chains them in one process
 * (pipeline/cell.ts), and the custom actions run one per workflow step, each taking its inputs from an
 * earlier step's outputs (actions/src/action-runs/). The spec, the cache key's inputs, the build's
 * folder name and its label are decided here only, so a build from either path is the same cache
 * entry.
 */
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import { sampleTelemetry, type TelemetrySample } from "../records/host-info.ts";
import type {
  ReferenceLogits,
  StageName,
  StageResult,
  StageSpec,
  ToolchainVersions,
} from "../schemas/stage.ts";
import type { RunnableCell } from "./runnable-cell.ts";
import type { Step, StepRunner } from "./step-runner.ts";

export interface StageContext {
  steps: StepRunner;
  warmup: number;
  reps: number;
  /** Per-stage `spec.options` (test and debug knobs no matrix sets, e.g. `{sleep_s: 30}`). */
  stageOptions: Partial<Record<StageName, Record<string, unknown>>>;
}

/** An artefact another stage consumes: where it is, and the hash that enters the consumer's cache key. */
export interface ArtefactRef {
  path: string;
  sha256: string;
}

/**
 * The execute spec's OPTIONAL `cooldown`, from the device's `thermal` block in farm.yml; nothing
 * for a device without one (GitHub-hosted runners: their temperature is not ours to manage).
 */
export function cooldownFor(device: Cell["device"]): Pick<StageSpec["execute"], "cooldown"> {
  const t = device.thermal;
  return t === null ? {} : { cooldown: { below_c: t.cooldown_below_c, max_wait_s: t.max_wait_s } };
}

export function stageSpec(
  ctx: StageContext,
  stage: StageName,
  cell: RunnableCell,
  inputs: Record<string, string>,
): StageSpec {
  return {
    schema: "pte-farm/stage-spec@1",
    stage,
    cell: cell.ref,
    model: {
      id: cell.model.name,
      path: cell.model.path,
      max_seq_len: cell.model.max_seq_len,
      // Only for CNNs, so a decoder LM's spec (and its cache key) stays what it was.
      ...(cell.model.kind === "cnn" && cell.model.inputShape !== null
        ? { kind: "cnn" as const, input_shape: cell.model.inputShape }
        : {}),
    },
    prompts: cell.model.prompts,
    max_new_tokens: cell.model.max_new_tokens,
    recipe: cell.recipe.spec,
    backend: cell.backend.spec,
    inputs,
    execute: {
      warmup: ctx.warmup,
      reps: ctx.reps,
      prompt_ids: [],
      ...cooldownFor(cell.device),
    },
    options: ctx.stageOptions[stage] ?? {},
  };
}

/** The absolute path and sha256 of an artefact a stage declared, or a note saying it is missing. */
export function artefactOf(step: Step, role: string): ArtefactRef | string {
  const a = (step.result as StageResult).artefacts[role];
  if (a === undefined)
    return `stage ${step.stage} succeeded but declared no \`${role}\` artefact in result.json`;
  return { path: path.resolve(step.dir, a.path), sha256: a.sha256 };
}

/** Reference tokens: one build per model and recipe. */
export function referenceStep(ctx: StageContext, cell: RunnableCell): Promise<Step> {
  const { m, r } = names(cell);
  return ctx.steps.build(stageSpec(ctx, "reference", cell, {}), `${m}/${r}`, `${m}/reference-${r}`, {}, cell);
}

/** The exported program: one build per model, whatever the recipe. */
export function exportStep(ctx: StageContext, cell: RunnableCell): Promise<Step> {
  const { m } = names(cell);
  return ctx.steps.build(stageSpec(ctx, "export", cell, {}), m, `${m}/export`, {}, cell);
}

/** The quantized program: one build per model and recipe. */
export function quantizeStep(ctx: StageContext, cell: RunnableCell, program: ArtefactRef): Promise<Step> {
  const { m, r } = names(cell);
  return ctx.steps.build(
    stageSpec(ctx, "quantize", cell, { program: program.path }),
    `${m}/${r}`,
    `${m}/quantize-${r}`,
    { program: program.sha256 },
    cell,
  );
}

/** The `.pte` and its manifest: one build per model, recipe and backend, serving every device. */
export function lowerStep(ctx: StageContext, cell: RunnableCell, program: ArtefactRef): Promise<Step> {
  const { m, r, b } = names(cell);
  return ctx.steps.build(
    stageSpec(ctx, "lower", cell, { program: program.path }),
    `${m}/${r}/${b}`,
    `${m}/lower-${r}-${b}`,
    { program: program.sha256 },
    cell,
  );
}

export interface ExecuteRequest {
  /** `pte` and `manifest`; for an interleaved session also `base_pte` and `base_manifest`. */
  inputs: Record<string, string>;
  /** The reference's prompt ids, so execute feeds the `.pte` exactly the tokens the reference saw. */
  promptIds: number[][];
  /** OPTIONAL (issue 17): the recipe's eager tokens and top logits per prompt, for the numerics. */
  referenceLogits?: ReferenceLogits[];
  dir: string;
  /** From the manifest, for the failure triage (a build/device toolchain mismatch is a known issue). */
  buildToolchain: ToolchainVersions | null;
}

/** Execute, never cached, with the orchestrator's telemetry samples just before and after it. */
export async function executeStep(
  ctx: StageContext,
  cell: RunnableCell,
  req: ExecuteRequest,
): Promise<{ step: Step; telemetry: TelemetrySample[] }> {
  const spec = stageSpec(ctx, "execute", cell, req.inputs);
  spec.execute.prompt_ids = req.promptIds;
  if (req.referenceLogits !== undefined) spec.execute.reference_logits = req.referenceLogits;
  const before = await sampleTelemetry("before-execute");
  const step = await ctx.steps.executeCell(spec, cell, req.dir, req.buildToolchain);
  return { step, telemetry: [before, await sampleTelemetry("after-execute")] };
}

function names(cell: RunnableCell) {
  return { m: cell.model.name, r: cell.recipe.name, b: cell.backend.name };
}
