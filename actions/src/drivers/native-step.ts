/**
 * What every native driver (llama-main, fvp) shares around its measurement: the step folder
 * (spec.json, stage.log, result.json, as a Python stage leaves them), the refusal of a `.pte` that
 * is not the one its manifest describes or was built by another ExecuTorch than the runner's, the
 * orchestrator's telemetry around the step, and the Step the gate action reads back — with the
 * failure's triage and a reproduce line when it did not succeed.
 */
import { type FileHandle, mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { sha256File } from "../core/hashing.ts";
import { KNOWN_ISSUES_FILE } from "../core/paths.ts";
import { parse, ValidationError } from "../core/validate.ts";
import type { FailureNote, Step } from "../pipeline/step-runner.ts";
import { triage } from "../pipeline/triage.ts";
import { platformId, sampleTelemetry } from "../records/host-info.ts";
import type { StageOutcomeKind } from "../schemas/run-record.ts";
import {
  type ExecuteData,
  executeData,
  type StageError,
  type StageResult,
  type ToolchainVersions,
} from "../schemas/stage.ts";
import type { DriverRequest, DriverRun } from "./driver.ts";
import type { ProcessResult } from "./process.ts";
import { commandLine } from "./process.ts";

/**
 * How a native run did not succeed. `kind` decides the record's status: `stage-failure` is the
 * model or the runtime on the device (reported against the cell), `infra-failure` and `timeout`
 * are the machine or our plumbing (never reported as a model regression).
 */
export class DriverFailure extends Error {
  readonly kind: Exclude<StageOutcomeKind, "ok" | "config-error">;
  readonly hint: string | null;
  /** The command that showed the failure, for the reproduce line. */
  readonly command: string | null;
  constructor(
    kind: DriverFailure["kind"],
    message: string,
    opts: { hint?: string; process?: ProcessResult | null } = {},
  ) {
    super(message);
    this.name = "DriverFailure";
    this.kind = kind;
    this.hint = opts.hint ?? null;
    this.command = opts.process ? commandLine(opts.process.argv) : null;
  }
}

export interface NativeContext {
  req: DriverRequest;
  /** Appends to the step's stage.log. */
  log: (text: string) => Promise<void>;
  /** The step's stage.log, for runProcess. */
  logFile: FileHandle;
  /** performance.now() at which the step's budget runs out. */
  deadline: number;
}

export interface NativeMeasurement {
  data: ExecuteData;
}

export interface NativeStepSpec {
  /** The driver's name, for spec.json and messages. */
  driver: string;
  /** What runs the model (the binary's path), reported as the device toolchain's `runner`. */
  runner: string;
  toolchain: ToolchainVersions;
  /** Everything the driver decided before running (flags, files), for spec.json. */
  plan: Record<string, unknown>;
}

async function checkArtefact(req: DriverRequest, spec: NativeStepSpec): Promise<void> {
  const want = req.manifest.pte.sha256;
  const got = await sha256File(req.pte);
  if (got !== want) {
    throw new DriverFailure(
      "infra-failure",
      `refusing to execute ${req.pte}: its sha256 ${got.slice(0, 16)}… does not match the manifest's ` +
        `${want.slice(0, 16)}…; the file was corrupted or replaced after lowering`,
      { hint: "rebuild it (pte-farm run --no-cache) or download it again" },
    );
  }
  const built = req.manifest.toolchain.executorch ?? null;
  const here = spec.toolchain.executorch ?? null;
  if (built !== null && here !== null && built !== here) {
    throw new DriverFailure(
      "infra-failure",
      `toolchain mismatch: the .pte was built with executorch ${built}, this device's ${spec.driver} runner ` +
        `(${spec.runner}) with executorch ${here}`,
      { hint: "rebuild the runner from the build's ExecuTorch release (runners/ provisioning)" },
    );
  }
}

function stageError(f: DriverFailure, spec: NativeStepSpec): StageError {
  return {
    kind: f.kind === "stage-failure" ? "stage" : "infra",
    type: f.kind === "timeout" ? "Timeout" : "DriverFailure",
    message: f.message,
    package: spec.driver,
    package_version: (spec.toolchain.executorch as string | null) ?? null,
    hint: f.hint,
  };
}

/**
 * Runs `measure` inside the step folder and returns the Step; never throws for a DriverFailure.
 * The data `measure` returns is checked against the execute contract here, so a driver bug is an
 * infrastructure failure of this step, not a confusing error in the gate.
 */
export async function runNativeStep(
  req: DriverRequest,
  spec: NativeStepSpec,
  measure: (ctx: NativeContext) => Promise<NativeMeasurement>,
): Promise<DriverRun> {
  await mkdir(req.dir, { recursive: true });
  const logPath = path.join(req.dir, "stage.log");
  await writeFile(
    path.join(req.dir, "spec.json"),
    `${JSON.stringify(
      {
        schema: "pte-farm/driver-spec@1",
        driver: spec.driver,
        cell: req.cell.id,
        pte: req.pte,
        manifest: req.manifestPath,
        warmup: req.warmup,
        reps: req.reps,
        timeout_s: req.timeoutS,
        prompt_ids: req.promptIds,
        ...spec.plan,
      },
      null,
      2,
    )}\n`,
  );
  const before = await sampleTelemetry("before-execute");
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const logFile = await open(logPath, "w");
  let data: ExecuteData | null = null;
  let failure: DriverFailure | null = null;
  try {
    const ctx: NativeContext = {
      req,
      log: (text) => logFile.appendFile(text),
      logFile,
      deadline: started + req.timeoutS * 1000,
    };
    await checkArtefact(req, spec);
    const measured = await measure(ctx);
    try {
      data = parse(executeData, measured.data, `${spec.driver} driver: execute data`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      throw new DriverFailure("infra-failure", `broken contract (a pte-farm bug): ${err.message}`);
    }
  } catch (err) {
    if (!(err instanceof DriverFailure)) throw err;
    failure = err;
    await logFile.appendFile(`pte-farm: ${err.kind}: ${err.message}\n`);
  } finally {
    await logFile.close();
  }
  const wallMs = performance.now() - started;
  const result: StageResult = {
    schema: "pte-farm/stage-result@1",
    stage: "execute",
    status: failure === null ? "ok" : "failed",
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    duration_s: Math.round(wallMs) / 1000,
    toolchain: spec.toolchain,
    artefacts: {},
    data: data ?? {},
    error: failure === null ? null : stageError(failure, spec),
  };
  await writeFile(path.join(req.dir, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
  const after = await sampleTelemetry("after-execute");
  const step: Step = {
    stage: "execute",
    label: req.cell.id,
    kind: failure?.kind ?? "ok",
    cache: "off",
    dir: req.dir,
    logPath,
    wallMs,
    result,
    data,
    reason: failure?.message ?? null,
    failure: failure === null ? null : await failureNote(req, spec, failure, logPath),
  };
  return { step, telemetry: [before, after] };
}

async function failureNote(
  req: DriverRequest,
  spec: NativeStepSpec,
  f: DriverFailure,
  logPath: string,
): Promise<FailureNote> {
  const log = await readFile(logPath, "utf8").catch(() => "");
  const t = triage(await loadKnownIssues(KNOWN_ISSUES_FILE), {
    stage: "execute",
    log,
    errorMessage: f.message,
    reason: f.message,
    toolchain: spec.toolchain,
    toolchainName: req.cell.toolchain.name,
    buildToolchain: req.manifest.toolchain,
    platform: platformId(),
    recipe: req.cell.recipe.spec,
  });
  const message = `stage execute failed in ${spec.driver} (${f.kind}): ${f.message}`;
  req.logger.error(
    `${message}${f.hint === null ? "" : `\n  hint: ${f.hint}`}\n  triage: ${t.summary}\n  log: ${logPath}`,
  );
  return {
    stage: "execute",
    outcome: f.kind,
    message,
    known_issue: t.kind === "known" ? t.issue.id : null,
    triage: t.summary,
    reproduce:
      f.command ?? `see ${logPath} (${spec.driver} driver, spec in ${path.join(req.dir, "spec.json")})`,
  };
}
