/**
 * The end-to-end flow for cells: reference → export → quantize → lower → execute → gate. Builds
 * shared between cells run once (export per model, reference and quantize per model+recipe, lower
 * per model+recipe+backend); a failed stage stops its cell and every cell that needs it.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Cell } from "../../matrix/cells.ts";
import { defaultPolicy, GateInputError, gate } from "./gate.ts";
import { type DeviceInfo, sampleTelemetry, type TelemetrySample } from "./host-info.ts";
import type { RunnableCell } from "./local-model.ts";
import type { Logger } from "./logger.ts";
import { buildRunRecord } from "./run-record.ts";
import { manifest as manifestSchema } from "./schemas/manifest.ts";
import type { GateResult, Role, RunRecord } from "./schemas/run-record.ts";
import type {
  ExecuteData,
  ReferenceData,
  StageName,
  StageResult,
  StageSpec,
  ToolchainVersions,
} from "./schemas/stage.ts";
import type { FailureNote, Step, StepRunner } from "./steps.ts";
import { parseJson, ValidationError } from "./validate.ts";

export interface PipelineContext {
  steps: StepRunner;
  outDir: string;
  session: string;
  role: Role;
  gitSha: string | null;
  device: DeviceInfo;
  warmup: number;
  reps: number;
  /** Per-stage `spec.options` (test and debug knobs no matrix sets, e.g. `{sleep_s: 30}`). */
  stageOptions: Partial<Record<StageName, Record<string, unknown>>>;
  logger: Logger;
}

/** The folder of a cell inside the run output: `cells/<model>/<recipe>/<backend>/<device>@<toolchain>`. */
export function cellDir(outDir: string, cell: Cell): string {
  return path.join(outDir, "cells", ...cell.id.split("/"));
}

function specFor(
  ctx: PipelineContext,
  stage: StageName,
  cell: RunnableCell,
  inputs: Record<string, string>,
): StageSpec {
  return {
    schema: "pte-farm/stage-spec@1",
    stage,
    cell: cell.ref,
    model: { id: cell.model.name, path: cell.model.path, max_seq_len: cell.model.max_seq_len },
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

/**
 * The execute spec's OPTIONAL `cooldown`, from the device's `thermal` block in farm.yml; nothing
 * for a device without one (GitHub-hosted runners: their temperature is not ours to manage).
 */
export function cooldownFor(device: Cell["device"]): Pick<StageSpec["execute"], "cooldown"> {
  const t = device.thermal;
  return t === null ? {} : { cooldown: { below_c: t.cooldown_below_c, max_wait_s: t.max_wait_s } };
}

/** The absolute path and sha256 of an artefact a stage declared, or a note saying it is missing. */
function artefactOf(step: Step, role: string): { path: string; sha256: string } | string {
  const a = (step.result as StageResult).artefacts[role];
  if (a === undefined)
    return `stage ${step.stage} succeeded but declared no \`${role}\` artefact in result.json`;
  return { path: path.resolve(step.dir, a.path), sha256: a.sha256 };
}

function contractFailure(stage: StageName | undefined, message: string, cell: Cell): FailureNote {
  return {
    ...(stage === undefined ? {} : { stage }),
    outcome: "infra-failure",
    message,
    known_issue: null,
    triage: `broken contract between pte-farm and the stages (not an upstream issue): ${message}`,
    reproduce: `node actions/src/cli.ts run --no-cache --cells '${cell.id}'`,
  };
}

/** A base `.pte` and its manifest (from an earlier run's lower stage) to interleave with the head's. */
export interface BasePte {
  pte: string;
  manifest: string;
  sha256: string;
}

/** Runs one cell to its run record; never throws for stage or gate problems (they end up in the record). */
export async function runCell(ctx: PipelineContext, cell: RunnableCell): Promise<RunRecord> {
  return (await runCellRecords(ctx, cell, null))[0] as RunRecord;
}

/**
 * One cell with base and head measured interleaved (ABBA) in one execute process: two records,
 * role base and role head, same session, each gated against the cell's reference. When a stage
 * fails before execute produced both, only the head record (with the failure) is returned.
 */
export async function runCellInterleaved(
  ctx: PipelineContext,
  cell: RunnableCell,
  base: BasePte,
): Promise<RunRecord[]> {
  return runCellRecords(ctx, cell, base);
}

async function runCellRecords(
  ctx: PipelineContext,
  cell: RunnableCell,
  base: BasePte | null,
): Promise<RunRecord[]> {
  const startedAt = new Date().toISOString();
  const steps: Step[] = [];
  const telemetry: TelemetrySample[] = [];
  let reference: ReferenceData | null = null;
  let execute: ExecuteData | null = null;
  let gateResult: GateResult | null = null;
  let buildToolchain: ToolchainVersions | null = null;
  let failure: FailureNote | null = null;
  const m = cell.model.name;
  const r = cell.recipe.name;
  const b = cell.backend.name;

  let headSha = "";
  const one = (role: Role, data: ExecuteData | null, g: GateResult | null): RunRecord =>
    buildRunRecord({
      cell,
      session: ctx.session,
      role,
      gitSha: ctx.gitSha,
      startedAt,
      finishedAt: new Date().toISOString(),
      steps,
      device: ctx.device,
      telemetry,
      buildToolchain,
      deviceToolchain: steps.find((s) => s.stage === "execute")?.result?.toolchain ?? null,
      reference,
      execute: data,
      gate: g,
      failure,
      ...(base !== null && data !== null && execute?.order !== undefined
        ? {
            interleave: { order: execute.order, partner_pte_sha256: role === "head" ? base.sha256 : headSha },
          }
        : {}),
    });
  const finish = (): RunRecord[] => {
    const baseData = execute?.base;
    if (base === null || baseData === undefined) return [one(ctx.role, execute, gateResult)];
    return [one("base", baseData, gateOf(baseData)), one("head", execute, gateResult)];
  };
  const gateOf = (data: { prompts: ExecuteData["prompts"] }): GateResult | null => {
    if (reference === null) return null;
    try {
      return gate(reference.prompts, data.prompts, defaultPolicy(reference.prompts, cell.fp32Gate));
    } catch (err) {
      if (!(err instanceof GateInputError)) throw err;
      failure = contractFailure(undefined, `gate: ${err.message}`, cell);
      return null;
    }
  };
  const broken = (stage: StageName | undefined, message: string): RunRecord[] => {
    failure = contractFailure(stage, message, cell);
    return finish();
  };
  const ok = (step: Step): boolean => {
    steps.push(step);
    return step.kind === "ok";
  };

  ctx.logger.info(`cell ${cell.id}`);
  const ref = await ctx.steps.build(
    specFor(ctx, "reference", cell, {}),
    `${m}/${r}`,
    `${m}/reference-${r}`,
    {},
    cell,
  );
  if (!ok(ref)) return finish();
  reference = ref.data as ReferenceData;

  const exp = await ctx.steps.build(specFor(ctx, "export", cell, {}), m, `${m}/export`, {}, cell);
  if (!ok(exp)) return finish();
  const program = artefactOf(exp, "program");
  if (typeof program === "string") return broken("export", program);

  const qSpec = specFor(ctx, "quantize", cell, { program: program.path });
  const q = await ctx.steps.build(
    qSpec,
    `${m}/${r}`,
    `${m}/quantize-${r}`,
    { program: program.sha256 },
    cell,
  );
  if (!ok(q)) return finish();
  const qProgram = artefactOf(q, "program");
  if (typeof qProgram === "string") return broken("quantize", qProgram);

  const lSpec = specFor(ctx, "lower", cell, { program: qProgram.path });
  const low = await ctx.steps.build(
    lSpec,
    `${m}/${r}/${b}`,
    `${m}/lower-${r}-${b}`,
    { program: qProgram.sha256 },
    cell,
  );
  if (!ok(low)) return finish();
  const pte = artefactOf(low, "pte");
  const man = artefactOf(low, "manifest");
  if (typeof pte === "string") return broken("lower", pte);
  if (typeof man === "string") return broken("lower", man);
  try {
    buildToolchain = parseJson(manifestSchema, await readFile(man.path, "utf8"), man.path).toolchain;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return broken("lower", err.message);
  }

  headSha = pte.sha256;
  const eInputs: Record<string, string> = { pte: pte.path, manifest: man.path };
  if (base !== null) Object.assign(eInputs, { base_pte: base.pte, base_manifest: base.manifest });
  const eSpec = specFor(ctx, "execute", cell, eInputs);
  eSpec.execute.prompt_ids = reference.prompts.map((p) => p.prompt_ids);
  telemetry.push(await sampleTelemetry("before-execute"));
  const exe = await ctx.steps.executeCell(
    eSpec,
    cell,
    path.join(cellDir(ctx.outDir, cell), "execute"),
    buildToolchain,
  );
  telemetry.push(await sampleTelemetry("after-execute"));
  if (!ok(exe)) return finish();
  execute = exe.data as ExecuteData;

  if (cell.recipe.quantized && reference.prompts.some((p) => p.quantized === null)) {
    return broken("reference", `recipe ${r} is quantized but the reference has no quantized tokens`);
  }
  if (base !== null && (execute.base === undefined || execute.order === undefined)) {
    return broken("execute", "execute was given a base .pte but returned no `base` data or `order`");
  }
  gateResult = gateOf(execute);
  return finish();
}
