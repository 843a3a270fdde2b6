/**
 * The end-to-end flow for cells: reference → export → quantize → lower → execute → gate. Builds
 * shared between cells run once (export per model, reference and quantize per model+recipe, lower
 * per model+recipe+backend); a failed stage stops its cell and every cell that needs it.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import type { DeviceInfo, TelemetrySample } from "../core/host-info.ts";
import type { Logger } from "../core/logger.ts";
import { parseJson, ValidationError } from "../core/validate.ts";
import { defaultPolicy, GateInputError, gate } from "../gate/policy.ts";
import { buildRunRecord } from "../records/build.ts";
import { manifest as manifestSchema } from "../schemas/manifest.ts";
import type { GateResult, Role, RunRecord } from "../schemas/run-record.ts";
import type {
  Delegation,
  ExecuteData,
  ReferenceData,
  StageName,
  ToolchainVersions,
} from "../schemas/stage.ts";
import type { RunnableCell } from "./runnable-cell.ts";
import {
  artefactOf,
  executeStep,
  exportStep,
  lowerStep,
  quantizeStep,
  referenceStep,
  type StageContext,
} from "./stages.ts";
import type { FailureNote, Step } from "./steps.ts";

export { cooldownFor } from "./stages.ts";

export interface PipelineContext extends StageContext {
  outDir: string;
  session: string;
  role: Role;
  gitSha: string | null;
  device: DeviceInfo;
  logger: Logger;
}

/** The folder of a cell inside the run output: `cells/<model>/<recipe>/<backend>/<device>@<toolchain>`. */
export function cellDir(outDir: string, cell: Cell): string {
  return path.join(outDir, "cells", ...cell.id.split("/"));
}

function contractFailure(stage: StageName | undefined, message: string, cell: Cell): FailureNote {
  return {
    ...(stage === undefined ? {} : { stage }),
    outcome: "infra-failure",
    message,
    known_issue: null,
    triage: `broken contract between pte-farm and the stages (not an upstream issue): ${message}`,
    reproduce: `node actions/src/cli/pte-farm.ts run --no-cache --cells '${cell.id}'`,
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
  let delegation: Delegation | undefined;
  /** The head `.pte` as its manifest names it: execute runs only a file whose sha256 matches. */
  let builtPte: { sha256: string; bytes: number } | undefined;
  let failure: FailureNote | null = null;
  const r = cell.recipe.name;

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
      ...(delegation === undefined ? {} : { delegation }),
      ...(data !== null && role !== "base" && builtPte !== undefined ? { pte: builtPte } : {}),
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
  const ref = await referenceStep(ctx, cell);
  if (!ok(ref)) return finish();
  reference = ref.data as ReferenceData;

  const exp = await exportStep(ctx, cell);
  if (!ok(exp)) return finish();
  const program = artefactOf(exp, "program");
  if (typeof program === "string") return broken("export", program);

  const q = await quantizeStep(ctx, cell, program);
  if (!ok(q)) return finish();
  const qProgram = artefactOf(q, "program");
  if (typeof qProgram === "string") return broken("quantize", qProgram);

  const low = await lowerStep(ctx, cell, qProgram);
  if (!ok(low)) return finish();
  const pte = artefactOf(low, "pte");
  const man = artefactOf(low, "manifest");
  if (typeof pte === "string") return broken("lower", pte);
  if (typeof man === "string") return broken("lower", man);
  try {
    const built = parseJson(manifestSchema, await readFile(man.path, "utf8"), man.path);
    buildToolchain = built.toolchain;
    delegation = built.delegation;
    builtPte = { sha256: built.pte.sha256, bytes: built.pte.bytes };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return broken("lower", err.message);
  }

  headSha = pte.sha256;
  const eInputs: Record<string, string> = { pte: pte.path, manifest: man.path };
  if (base !== null) Object.assign(eInputs, { base_pte: base.pte, base_manifest: base.manifest });
  const run = await executeStep(ctx, cell, {
    inputs: eInputs,
    promptIds: reference.prompts.map((p) => p.prompt_ids),
    dir: path.join(cellDir(ctx.outDir, cell), "execute"),
    buildToolchain,
  });
  telemetry.push(...run.telemetry);
  const exe = run.step;
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
