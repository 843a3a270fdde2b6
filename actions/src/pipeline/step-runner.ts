/**
 * One stage as the pipeline sees it: served from the build cache, shared with an earlier cell of
 * the same run, or run for real — with a progress line at start and finish, and, on failure, the
 * message, known-issue triage and a reproduce line already worked out.
 */

import { cp, mkdir, readFile, rename, rm, symlink } from "node:fs/promises";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import type { KnownIssue } from "../../../matrix/known-issues.ts";
import { canonicalJson, sha256Text } from "../core/hashing.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath, inRunOutput, portablePython } from "../core/paths.ts";
import { executeCommand } from "../drivers/emulation.ts";
import { platformId } from "../records/host-info.ts";
import type { RunRecord, StageOutcomeKind } from "../schemas/run-record.ts";
import type { StageName, StageResult, StageSpec, ToolchainVersions } from "../schemas/stage.ts";
import {
  type BuildCache,
  cacheKey,
  keyMaterial,
  modelFolderHash,
  type ToolchainFingerprint,
} from "./cache.ts";
import { describeFailure, runStage, type StageCommand, type StageOutcome } from "./stage-process.ts";
import { reproduceCommand, triage } from "./triage.ts";

export type FailureNote = NonNullable<RunRecord["failure"]>;

export interface Step {
  stage: StageName;
  /** What the step is about: `tiny-llama`, `tiny-llama/fp32`, or a cell id. */
  label: string;
  kind: StageOutcomeKind;
  cache: "hit" | "miss" | "shared" | "off";
  dir: string;
  logPath: string | null;
  wallMs: number;
  result: StageResult | null;
  /** The validated `data` (typed by the caller, who knows the stage). */
  data: unknown;
  /** For anything but "ok": the runner's one-sentence classification. */
  reason: string | null;
  failure: FailureNote | null;
}

export interface StepRunnerOptions {
  outDir: string;
  command: StageCommand;
  /** null with `--no-cache`. */
  cache: BuildCache | null;
  /** By toolchain name; null with `--no-cache` (then keys only deduplicate builds within the run). */
  fingerprints: ReadonlyMap<string, ToolchainFingerprint> | null;
  timeoutMs: number;
  logger: Logger;
  knownIssues: readonly KnownIssue[];
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Moves a folder, falling back to copy + delete across file systems. */
async function moveDir(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  await rm(to, { recursive: true, force: true });
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await cp(from, to, { recursive: true });
    await rm(from, { recursive: true, force: true });
  }
}

/**
 * Points the run output's build folder at its cache entry. An existing link is replaced: the
 * action steps of a job share one output folder, and a re-run step links the same build again.
 */
async function linkBuild(entry: string, outPath: string): Promise<void> {
  await mkdir(path.dirname(outPath), { recursive: true });
  await rm(outPath, { recursive: true, force: true });
  await symlink(entry, outPath, "dir");
}

export class StepRunner {
  private readonly opts: StepRunnerOptions;
  private readonly builds = new Map<string, Promise<Step>>();

  constructor(opts: StepRunnerOptions) {
    this.opts = opts;
  }

  /**
   * A cacheable stage (reference, export, quantize, lower). `outName` is the build's folder under
   * `builds/`; `inputShas` are the sha256 of `spec.inputs`, by role. The same build asked for by a
   * second cell is run once and reported as `shared`.
   */
  async build(
    spec: StageSpec,
    label: string,
    outName: string,
    inputShas: Record<string, string>,
    cell: Cell,
  ): Promise<Step> {
    const material = keyMaterial(spec, inputShas);
    const fp = this.opts.fingerprints?.get(cell.toolchain.name) ?? null;
    const key =
      fp === null
        ? sha256Text(canonicalJson({ stage: spec.stage, material }))
        : cacheKey(spec.stage, material, fp, await modelFolderHash(spec.model.path));
    const dedupe = `${spec.stage}:${key}`;
    const earlier = this.builds.get(dedupe);
    if (earlier !== undefined) {
      const step = await earlier;
      this.opts.logger.info(
        `${clock()}  ${spec.stage.padEnd(9)} ${label}  shared (from earlier in this run)`,
      );
      return { ...step, cache: step.cache === "hit" ? "hit" : "shared" };
    }
    const promise = this.buildOnce(spec, label, outName, key, material, cell);
    this.builds.set(dedupe, promise);
    return promise;
  }

  private async buildOnce(
    spec: StageSpec,
    label: string,
    outName: string,
    key: string,
    material: unknown,
    cell: Cell,
  ): Promise<Step> {
    const { cache, logger } = this.opts;
    const outPath = path.join(this.opts.outDir, "builds", outName);
    if (cache === null) return this.execute(spec, label, outPath, "off", cell);

    const started = performance.now();
    const hit = await cache.lookup(spec.stage, key);
    if (hit !== null) {
      await linkBuild(hit.dir, outPath);
      const wallMs = performance.now() - started;
      logger.info(`${clock()}  ${spec.stage.padEnd(9)} ${label}  cache hit (${seconds(wallMs)})`);
      return {
        stage: spec.stage,
        label,
        kind: "ok",
        cache: "hit",
        // The run output's link to the entry: records name paths inside the run's output folder.
        dir: outPath,
        logPath: path.join(outPath, "stage.log"),
        wallMs,
        result: hit.result,
        data: hit.data,
        reason: null,
        failure: null,
      };
    }
    const tmp = await cache.tempDir(spec.stage);
    const step = await this.execute(spec, label, tmp, "miss", cell);
    if (step.kind === "ok") {
      const dir = await cache.publish(spec.stage, key, tmp, material);
      await linkBuild(dir, outPath);
      return { ...step, dir: outPath, logPath: path.join(outPath, "stage.log") };
    }
    // Failed builds are never cached; their folder (log included) moves into the run output.
    await moveDir(tmp, outPath);
    return this.noteFailure(spec, { ...step, dir: outPath, logPath: path.join(outPath, "stage.log") }, cell);
  }

  /** The execute stage: never cached, run in the cell's own folder. */
  async executeCell(
    spec: StageSpec,
    cell: Cell,
    dir: string,
    buildToolchain: ToolchainVersions | null,
  ): Promise<Step> {
    const step = await this.execute(spec, cell.id, dir, "off", cell);
    return step.kind === "ok" ? step : this.noteFailure(spec, step, cell, buildToolchain);
  }

  private async execute(
    spec: StageSpec,
    label: string,
    dir: string,
    cacheState: "miss" | "off",
    cell: Cell,
  ): Promise<Step> {
    const { logger } = this.opts;
    logger.info(
      `${clock()}  ${spec.stage.padEnd(9)} ${label}  started${cacheState === "miss" ? " (cache miss)" : ""}`,
    );
    const outcome: StageOutcome = await runStage(spec.stage, {
      // An emulated device's execute stage runs the arm64 runtime under QEMU (drivers/emulation.ts).
      command: spec.stage === "execute" ? executeCommand(this.opts.command, cell) : this.opts.command,
      spec,
      dir,
      timeoutMs: this.opts.timeoutMs,
    });
    const verdict = outcome.kind === "ok" ? "ok" : `FAILED (${outcome.kind})`;
    logger.info(`${clock()}  ${spec.stage.padEnd(9)} ${label}  ${verdict} in ${seconds(outcome.wallMs)}`);
    const step: Step = {
      stage: spec.stage,
      label,
      kind: outcome.kind,
      cache: cacheState,
      dir,
      logPath: outcome.logPath,
      wallMs: outcome.wallMs,
      result: outcome.result,
      data: outcome.data,
      reason: outcome.reason,
      failure: null,
    };
    // Builds in a cache temp folder are described after they move into the run output.
    if (outcome.kind !== "ok" && cacheState === "off" && spec.stage !== "execute")
      return this.noteFailure(spec, step, cell);
    return step;
  }

  private async noteFailure(
    spec: StageSpec,
    step: Step,
    cell: Cell,
    buildToolchain: ToolchainVersions | null = null,
  ): Promise<Step> {
    const logPath = step.logPath ?? path.join(step.dir, "stage.log");
    const message = await describeFailure({ ...step, logPath });
    const log = await readFile(logPath, "utf8").catch(() => "");
    const t = triage(this.opts.knownIssues, {
      stage: step.stage,
      log,
      errorMessage: step.result?.error?.message ?? null,
      reason: step.reason,
      toolchain: step.result?.toolchain ?? null,
      toolchainName: cell.toolchain.name,
      buildToolchain,
      platform: platformId(),
      recipe: spec.recipe,
    });
    const reproduce = reproduceCommand({
      python: portablePython(this.opts.command.python),
      stage: step.stage,
      specInOut: inRunOutput(this.opts.outDir, path.join(step.dir, "spec.json")),
      cellId: cell.id,
    });
    this.opts.logger.error(
      `${message}\n  triage: ${t.summary}\n  reproduce: ${reproduce}\n  (OUT=${displayPath(this.opts.outDir)})`,
    );
    const failure: FailureNote = {
      stage: step.stage,
      outcome: step.kind,
      message: message.split("\n")[0] ?? message,
      known_issue: t.kind === "known" ? t.issue.id : null,
      triage: t.summary,
      reproduce,
    };
    return { ...step, logPath, failure };
  }
}
