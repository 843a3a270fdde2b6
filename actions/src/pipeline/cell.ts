/**
 * One cell end to end in one process (`pte-farm run`): reference → export → quantize → lower
 * (stage-specs.ts, over the build cache) → execute (execute.ts, through the driver registry) → gate and
 * record (gate/finish.ts). The workflows run the same pieces one action per step; only the
 * transport differs (here the steps' results are in memory, there in step notes and artefacts).
 * Builds shared between cells run once; a failed stage stops its cell and every cell that needs it.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import type { Farm } from "../../../matrix/types.ts";
import type { Logger } from "../core/logger.ts";
import { parseJson, ValidationError } from "../core/validate.ts";
import type { DriverSettings, ExecuteDriver } from "../drivers/driver.ts";
import { finishCell } from "../gate/finish.ts";
import { numericsInput } from "../gate/numerics.ts";
import type { DeviceInfo, TelemetrySample } from "../records/host-info.ts";
import { type Manifest, manifest as manifestSchema } from "../schemas/manifest.ts";
import type { Role, RunRecord } from "../schemas/run-record.ts";
import type { ExecuteData, ReferenceData, StageName } from "../schemas/stage.ts";
import { executeCell } from "./execute.ts";
import type { RunnableCell } from "./runnable-cell.ts";
import {
  artefactOf,
  exportStep,
  lowerStep,
  quantizeStep,
  referenceStep,
  type StageContext,
} from "./stage-specs.ts";
import type { FailureNote, Step } from "./step-runner.ts";

export interface PipelineContext extends StageContext {
  farm: Farm;
  outDir: string;
  session: string;
  role: Role;
  gitSha: string | null;
  device: DeviceInfo;
  /** The driver that executes the cell here (execute.ts `localDriver`). */
  driver: ExecuteDriver;
  settings: DriverSettings;
  python: string;
  timeoutS: number;
  logger: Logger;
  /** Set when the cell's toolchain does not resolve or load: the cell is recorded with it, no stage runs. */
  toolchainFailure?: FailureNote;
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

/**
 * Runs one cell to its run record(s); never throws for stage or gate problems (they end up in the
 * record). With `base`, base and head are measured interleaved (ABBA) in one execute process: two
 * records, role base and role head, same session, each gated against the cell's reference. When a
 * stage fails before execute produced both, only the head record (with the failure) is returned.
 */
export async function runCell(
  ctx: PipelineContext,
  cell: RunnableCell,
  base?: BasePte,
): Promise<RunRecord[]> {
  const startedAt = new Date().toISOString();
  const steps: Step[] = [];
  const telemetry: TelemetrySample[] = [];
  let reference: ReferenceData | null = null;
  let execute: ExecuteData | null = null;
  let manifest: Manifest | null = null;
  let failure: FailureNote | null = null;

  const finish = (): RunRecord[] =>
    finishCell({
      cell,
      session: ctx.session,
      role: ctx.role,
      gitSha: ctx.gitSha,
      startedAt,
      steps,
      outDir: ctx.outDir,
      device: ctx.device,
      telemetry,
      reference,
      execute,
      deviceToolchain: steps.find((s) => s.stage === "execute")?.result?.toolchain ?? null,
      manifest,
      ...(base === undefined ? {} : { basePteSha256: base.sha256 }),
      failure,
      // Our own stages' data that cannot be compared is a broken contract: recorded, never thrown.
      incomparable: (stage, message) => contractFailure(stage, message, cell),
    });
  const broken = (stage: StageName | undefined, message: string): RunRecord[] => {
    failure = contractFailure(stage, message, cell);
    return finish();
  };
  const ok = (step: Step): boolean => {
    steps.push(step);
    return step.kind === "ok";
  };

  ctx.logger.info(`cell ${cell.id}`);
  if (ctx.toolchainFailure !== undefined) {
    failure = ctx.toolchainFailure;
    return finish();
  }
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
    manifest = parseJson(manifestSchema, await readFile(man.path, "utf8"), man.path);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return broken("lower", err.message);
  }

  const run = await executeCell(ctx.driver, {
    farm: ctx.farm,
    cell,
    pte: pte.path,
    manifestPath: man.path,
    manifest,
    promptIds: reference.prompts.map((p) => p.prompt_ids),
    ...numericsInput(reference, cell),
    warmup: ctx.warmup,
    reps: ctx.reps,
    dir: path.join(cellDir(ctx.outDir, cell), "execute"),
    outDir: ctx.outDir,
    timeoutS: ctx.timeoutS,
    python: ctx.python,
    settings: ctx.settings,
    logger: ctx.logger,
    stages: ctx,
    ...(base === undefined ? {} : { base: { pte: base.pte, manifest: base.manifest } }),
  });
  telemetry.push(...run.telemetry);
  if (!ok(run.step)) return finish();
  execute = run.step.data as ExecuteData;
  if (base !== undefined && (execute.base === undefined || execute.order === undefined)) {
    return broken("execute", "execute was given a base .pte but returned no `base` data or `order`");
  }
  return finish();
}
