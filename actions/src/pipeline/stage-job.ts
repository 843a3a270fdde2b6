/**
 * What a stage action needs around the one stage it runs: the cell (from a plan's build entry or a
 * device job's cell id), a StepRunner over the shared build cache, the files earlier steps left
 * (program, reference, manifest), and a step note for the gate. A stage that does not succeed
 * becomes a {@link StageFailedError} carrying the runner's message, which already names the stage
 * and the upstream package and version that raised.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type Cell, selectCells } from "../../../matrix/cells.ts";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { channelReason } from "../../../matrix/plan.ts";
import type { Farm } from "../../../matrix/types.ts";
import { ConfigurationError, EXIT, type ExitCode, InfrastructureError } from "../core/errors.ts";
import { sha256File } from "../core/hashing.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath, KNOWN_ISSUES_FILE, STAGES_DIR } from "../core/paths.ts";
import { arr, type Check, nonEmptyStr, obj, parse, parseJson, ValidationError } from "../core/validate.ts";
import type { TelemetrySample } from "../records/host-info.ts";
import { type Manifest, manifest as manifestSchema } from "../schemas/manifest.ts";
import type { StageOutcomeKind } from "../schemas/run-record.ts";
import {
  type StageData,
  type StageName,
  type StageResult,
  stageData,
  stageResult,
} from "../schemas/stage.ts";
import { BuildCache, toolchainFingerprints } from "./cache.ts";
import { cacheBudget, pruneCache, pruneSummary } from "./cache-prune.ts";
import { type RunnableCell, runnableCell } from "./runnable-cell.ts";
import { type ArtefactRef, artefactOf, type StageContext } from "./stage-specs.ts";
import { writeStepNote } from "./step-notes.ts";
import { type Step, StepRunner } from "./step-runner.ts";

/** A stage that did not succeed; `exitCode` follows the CLI (1 stage, 2 config, 3 infra or timeout). */
export class StageFailedError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode) {
    super(message);
    this.name = "StageFailedError";
    this.exitCode = exitCode;
  }
}

const EXIT_BY_OUTCOME: Record<StageOutcomeKind, ExitCode> = {
  ok: EXIT.ok,
  "stage-failure": EXIT.failed,
  "config-error": EXIT.usage,
  "infra-failure": EXIT.infra,
  timeout: EXIT.infra,
};

/** The fields of a plan build entry (matrix/plan.ts BuildJob) a stage action uses. */
const buildEntry = obj({
  model: nonEmptyStr,
  recipe: nonEmptyStr,
  backend: nonEmptyStr,
  toolchain: nonEmptyStr,
  cells: arr(nonEmptyStr),
});

/** The one cell `id` names, refusing an unknown, excluded or not-runnable one with what to fix. */
export function cellById(farm: Farm, id: string, what = "cell"): RunnableCell {
  const cell = matrixCellById(farm, id, what);
  // The action's interpreter holds the pinned toolchain: a channel's cell here would run the wrong one.
  if (cell.toolchain.channel !== null)
    throw new ConfigurationError(`${what} ${id}: ${channelReason(cell.toolchain.name)}`);
  return runnableCell(cell);
}

/**
 * Like {@link cellById}, but without asking for the model on disk: for steps that never load it
 * (the gate, and execute drivers that run a bare-metal image, such as the FVP's).
 */
export function matrixCellById(farm: Farm, id: string, what = "cell"): Cell {
  if (/[*?]/.test(id)) throw new ConfigurationError(`${what} ${id}: expected one cell id, not a glob`);
  const { cells, skipped } = selectCells(farm, id);
  const cell = cells.find((c) => c.id === id);
  if (cell === undefined) {
    const skip = skipped.find((s) => s.cell === id);
    throw new ConfigurationError(
      skip === undefined
        ? `${what} ${id}: not a cell of ${displayPath(farm.file)}`
        : `${what} ${id}: excluded by the matrix (${skip.reason})`,
    );
  }
  return cell;
}

/**
 * The cell a build entry stands for. Every cell of a build shares model, recipe, backend and
 * toolchain, and the device never enters a build's cache key, so its first cell serves.
 */
export function cellOfBuild(farm: Farm, raw: unknown): RunnableCell {
  let b: ReturnType<typeof buildEntry>;
  try {
    b = parse(buildEntry, raw, "input build");
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ConfigurationError(`${err.message} (expected one entry of the plan's builds output)`);
    }
    throw err;
  }
  const first = b.cells[0];
  if (first === undefined)
    throw new ConfigurationError("input build: cells is empty; the build serves no cell");
  const cell = cellById(farm, first, "input build: cells[0]");
  const r = cell.ref;
  if (
    r.model !== b.model ||
    r.recipe !== b.recipe ||
    r.backend !== b.backend ||
    r.toolchain !== b.toolchain
  ) {
    throw new ConfigurationError(
      `input build: cell ${first} is not a cell of the build ${b.model}/${b.recipe}/${b.backend}@${b.toolchain}`,
    );
  }
  return cell;
}

async function readText(file: string, what: string): Promise<string> {
  return readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(`cannot read ${what} ${file} (${err.code ?? err.message})`);
  });
}

/** A successful stage's result.json (an earlier step's output) and its validated `data`. */
export async function readStageResult<S extends StageName>(
  file: string,
  stage: S,
  what: string,
): Promise<{ result: StageResult; data: StageData[S] }> {
  try {
    const result = parseJson(stageResult, await readText(file, what), file);
    if (result.stage !== stage || result.status !== "ok") {
      throw new ConfigurationError(
        `${what} ${file}: a ${result.status} ${result.stage} result, expected a successful ${stage} result`,
      );
    }
    return { result, data: parse(stageData[stage] as Check<StageData[S]>, result.data, `${file}: data`) };
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigurationError(`${what}: ${err.message}`);
    throw err;
  }
}

export async function readManifest(file: string): Promise<Manifest> {
  try {
    return parseJson(manifestSchema, await readText(file, "input manifest"), file);
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigurationError(`input manifest: ${err.message}`);
    throw err;
  }
}

/** An artefact given as a path: its sha256 enters the next build's cache key. */
export async function artefactAt(file: string, what: string): Promise<ArtefactRef> {
  if (!existsSync(file)) throw new ConfigurationError(`${what} ${file} does not exist`);
  return { path: file, sha256: await sha256File(file) };
}

/**
 * Awaits a step, leaves its note for the gate, and throws StageFailedError unless it succeeded:
 * what {@link StageJob.run} does, for steps that run without a StageJob (native execute drivers).
 */
export async function recordStep(
  outDir: string,
  pending: Promise<Step | { step: Step; telemetry: TelemetrySample[] }>,
): Promise<Step> {
  const startedAt = new Date().toISOString();
  const done = await pending;
  const { step, telemetry } = "step" in done ? done : { step: done, telemetry: [] };
  await writeStepNote(outDir, step, startedAt, telemetry);
  if (step.kind !== "ok") {
    const f = step.failure;
    const message =
      f === null
        ? `stage ${step.stage}: ${step.kind}: ${step.reason ?? "?"}`
        : `${f.message}\ntriage: ${f.triage}\nreproduce: ${f.reproduce}`;
    throw new StageFailedError(message, EXIT_BY_OUTCOME[step.kind]);
  }
  return step;
}

export interface StageJobOptions {
  farm: Farm;
  cell: Cell;
  python: string;
  /** null: no cache (execute never uses one). */
  cacheDir: string | null;
  outDir: string;
  timeoutS: number;
  warmup?: number;
  reps?: number;
  logger: Logger;
}

/** One action's stages over the shared cache; {@link run} records a note and throws on failure. */
export class StageJob {
  readonly ctx: StageContext;
  readonly outDir: string;

  private constructor(ctx: StageContext, outDir: string) {
    this.ctx = ctx;
    this.outDir = outDir;
  }

  static async open(opts: StageJobOptions): Promise<StageJob> {
    if (!existsSync(opts.python)) {
      throw new InfrastructureError(
        `the toolchain's python ${opts.python} does not exist; set the python input or PTE_FARM_PYTHON`,
      );
    }
    const cache = opts.cacheDir === null ? null : new BuildCache(opts.cacheDir);
    await cache?.sweepTemp();
    if (cache !== null) {
      // Room for this job's builds first: older entries beyond the budget go (runner disks are small).
      const budget = cacheBudget();
      const note = pruneSummary(await pruneCache(cache.root, budget, Date.now()), budget);
      if (note !== null) opts.logger.info(note);
    }
    const steps = new StepRunner({
      outDir: opts.outDir,
      command: { python: opts.python, package: "pte_stages", pythonPath: [STAGES_DIR] },
      cache,
      fingerprints: cache === null ? null : await toolchainFingerprints([opts.cell], opts.python),
      timeoutMs: opts.timeoutS * 1000,
      logger: opts.logger,
      knownIssues: await loadKnownIssues(KNOWN_ISSUES_FILE),
    });
    const ctx = { steps, warmup: opts.warmup ?? 0, reps: opts.reps ?? 1, stageOptions: {} };
    return new StageJob(ctx, opts.outDir);
  }

  /**
   * Awaits a stage (a build step, or execute's step with its telemetry), leaves its step note, and
   * throws StageFailedError unless it succeeded.
   */
  async run(pending: Promise<Step | { step: Step; telemetry: TelemetrySample[] }>): Promise<Step> {
    return recordStep(this.outDir, pending);
  }

  /** A declared artefact of a successful step; a missing one is our broken contract, not the user's. */
  artefact(step: Step, role: string): ArtefactRef {
    const a = artefactOf(step, role);
    if (typeof a === "string") throw new InfrastructureError(a);
    return a;
  }
}
