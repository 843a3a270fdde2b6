/**
 * Runs one Python stage as its own process (`python -m pte_stages.<stage> --spec … --out …`) and
 * classifies how it ended. The process contract is stages/README.md; this is its other half.
 *
 * - The stage runs in its own process group, so a timeout kills the whole tree (a stage that
 *   forked a compiler or a `sleep` leaves nothing behind): SIGTERM to the group, SIGKILL after a
 *   grace period, and SIGKILL to the group again once the stage has exited, for stragglers.
 * - stdout and stderr go, interleaved and whole, to `DIR/stage.log`; nothing is parsed from them.
 * - `result.json` is validated, and every artefact it declares is checked (size and sha256).
 */

import { mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { cancelledReason, killOnCancel, runCancelled } from "../core/cancel.ts";
import { human, nearlyFull } from "../core/disk.ts";
import { sha256File } from "../core/hashing.ts";
import { displayPath } from "../core/paths.ts";
import { waitGroupGone } from "../core/process-group.ts";
import { type Check, parse, parseJson, ValidationError } from "../core/validate.ts";
import type { StageOutcomeKind } from "../schemas/run-record.ts";
import {
  type StageData,
  type StageName,
  type StageResult,
  type StageSpec,
  stageData,
  stageResult,
} from "../schemas/stage.ts";

/** How to start a stage: which interpreter, which package, what goes on PYTHONPATH. */
export interface StageCommand {
  python: string;
  /** The Python package holding one module per stage (`pte_stages`; tests use a fixture package). */
  package: string;
  /** Prepended to PYTHONPATH, so the repo's own stage code runs even without an editable install. */
  pythonPath: string[];
  env?: Record<string, string>;
}

export interface RunStageOptions {
  command: StageCommand;
  spec: StageSpec;
  /** The stage's output folder; created if missing. spec.json and stage.log are written into it. */
  dir: string;
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL on timeout (default 5 s). */
  graceMs?: number;
  /** The run's cancellation (default: the process's, core/cancel.ts). */
  cancel?: AbortSignal;
}

export interface StageOutcome<S extends StageName = StageName> {
  stage: S;
  kind: StageOutcomeKind;
  dir: string;
  specPath: string;
  logPath: string;
  exitCode: number | null;
  /** The signal that ended the process, whether or not we sent it. */
  signal: string | null;
  wallMs: number;
  /** The validated result.json, when there is a readable one (also on most failures). */
  result: StageResult | null;
  /** The stage's `data`, validated for this stage; only when `kind` is "ok". */
  data: StageData[S] | null;
  /** For anything but "ok": why it was classified so, in a sentence. */
  reason: string | null;
}

const SPEC_FILE = "spec.json";
const RESULT_FILE = "result.json";
const LOG_FILE = "stage.log";

/** The argv that runs `stage`; also what the reproduce line shows. */
export function stageArgv(command: StageCommand, stage: StageName, specPath: string, dir: string): string[] {
  return ["-m", `${command.package}.${stage}`, "--spec", specPath, "--out", dir];
}

/** Runs the stage to completion (or timeout) and classifies the outcome; never throws for stage problems. */
export async function runStage<S extends StageName>(
  stage: S,
  opts: RunStageOptions,
): Promise<StageOutcome<S>> {
  const { command, dir } = opts;
  const cancel = opts.cancel ?? runCancelled;
  await mkdir(dir, { recursive: true });
  const specPath = path.join(dir, SPEC_FILE);
  const logPath = path.join(dir, LOG_FILE);
  await writeFile(specPath, `${JSON.stringify(opts.spec, null, 2)}\n`);
  if (cancel.aborted) {
    const reason = cancelledReason(cancel, "the stage was not started");
    await writeFile(logPath, `${reason}\n`);
    const base = { stage, dir, specPath, logPath, exitCode: null, signal: null, wallMs: 0 };
    return { ...base, kind: "infra-failure", result: null, data: null, reason };
  }

  const log = await open(logPath, "w");
  const started = performance.now();
  let timedOut = false;
  let cancelled = false;
  let exit: { exitCode: number | null; signal: string | null; spawnError: string | null };
  try {
    const env: Record<string, string> = {
      PYTHONPATH: [...command.pythonPath, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      PYTHONUNBUFFERED: "1",
      ...command.env,
    };
    // A raw descriptor, not a pipe: the child writes straight into the log, and a grandchild that
    // outlives the stage cannot keep us waiting on a pipe. execa's types list only fds 1-9 for
    // stdout/stderr, but any open descriptor works (execa validates it as an integer at run time).
    const logFd = log.fd as 1;
    const child = execa(command.python, stageArgv(command, stage, specPath, dir), {
      stdin: "ignore",
      stdout: logFd,
      stderr: logFd,
      env,
      reject: false,
      killDescendants: true,
      forceKillAfterDelay: opts.graceMs ?? 5000,
      cleanup: true,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
    }, opts.timeoutMs);
    const cancelKill = killOnCancel(child, cancel, opts.graceMs ?? 5000);
    const res = await child;
    clearTimeout(timer);
    cancelKill.stop();
    cancelled = cancelKill.fired;
    // The stage is gone; anything still in its process group is a straggler (or ignored SIGTERM).
    child.kill("SIGKILL");
    // Signals arrive asynchronously: return only once nothing of the tree runs.
    if (child.pid !== undefined) await waitGroupGone(child.pid);
    const spawnError =
      res.exitCode === undefined && res.signal === undefined
        ? (res.code ?? res.shortMessage ?? "unknown error")
        : null;
    exit = { exitCode: res.exitCode ?? null, signal: res.signal ?? null, spawnError };
  } finally {
    await log.close();
  }
  const wallMs = performance.now() - started;
  const base = { stage, dir, specPath, logPath, exitCode: exit.exitCode, signal: exit.signal, wallMs };

  const read = await readResult(dir, stage);
  const result = read.result;
  const done = (
    kind: StageOutcomeKind,
    reason: string | null,
    data: StageData[S] | null = null,
  ): StageOutcome<S> => ({
    ...base,
    kind,
    result,
    data,
    reason,
  });

  if (cancelled) return done("infra-failure", cancelledReason(cancel, "its process group was killed"));
  if (timedOut)
    return done(
      "timeout",
      `timed out after ${Math.round(opts.timeoutMs / 1000)} s; its process group was killed`,
    );
  if (exit.spawnError !== null) {
    return done(
      "infra-failure",
      `could not start ${command.python} (${exit.spawnError}); set PTE_FARM_PYTHON to the toolchain's python`,
    );
  }
  // A full disk explains any death but a clean exit or a refused spec (exit 2).
  const full = exit.exitCode === 0 || exit.exitCode === 2 ? null : await nearlyFull(dir);
  if (full !== null) {
    return done(
      "infra-failure",
      `no space left on device: ${displayPath(dir)} has ${human(full)} free; the stage ${
        exit.signal === null ? `exited ${exit.exitCode}` : `died (${exit.signal})`
      } writing its output`,
    );
  }
  if (exit.signal !== null) {
    return done(
      "infra-failure",
      `killed by ${exit.signal}, which pte-farm did not send (out of memory? the OOM killer sends SIGKILL)`,
    );
  }
  if (exit.exitCode === 2)
    return done("config-error", read.problem ?? "the stage rejected its spec (exit 2)");
  if (exit.exitCode === 3)
    return done("infra-failure", "the stage reported an infrastructure failure (exit 3)");
  if (read.problem !== null) return done("infra-failure", read.problem);
  if (result === null) return done("infra-failure", `exited ${exit.exitCode} without writing ${RESULT_FILE}`);
  if (exit.exitCode === 1) {
    return result.status === "failed"
      ? done("stage-failure", `the stage failed (exit 1, ${result.error?.kind ?? "?"} error)`)
      : done("infra-failure", 'exited 1 but result.json says status "ok"');
  }
  if (exit.exitCode !== 0)
    return done("infra-failure", `exited ${exit.exitCode}, which the stage contract does not define`);
  if (result.status !== "ok") return done("infra-failure", 'exited 0 but result.json says status "failed"');

  try {
    const check = stageData[stage] as Check<StageData[S]>;
    const data = parse(check, result.data, `${displayPath(path.join(dir, RESULT_FILE))}: data`);
    const bad = await checkArtefacts(dir, result);
    return bad === null ? done("ok", null, data) : done("infra-failure", bad);
  } catch (err) {
    if (err instanceof ValidationError) return done("infra-failure", err.message);
    throw err;
  }
}

/** Reads and validates result.json; a missing file is not a problem here, an invalid one is. */
async function readResult(
  dir: string,
  stage: StageName,
): Promise<{ result: StageResult | null; problem: string | null }> {
  const file = path.join(dir, RESULT_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { result: null, problem: null };
  }
  try {
    const result = parseJson(stageResult, text, displayPath(file));
    if (result.stage !== stage) {
      return {
        result: null,
        problem: `${displayPath(file)}: stage: expected "${stage}", got "${result.stage}"`,
      };
    }
    return { result, problem: null };
  } catch (err) {
    if (err instanceof ValidationError) return { result: null, problem: err.message };
    throw err;
  }
}

/** Returns a message for the first artefact that is missing, the wrong size, or the wrong hash. */
export async function checkArtefacts(dir: string, result: StageResult): Promise<string | null> {
  for (const [role, a] of Object.entries(result.artefacts)) {
    const file = path.resolve(dir, a.path);
    const shown = displayPath(file);
    const size = await stat(file).then(
      (s) => s.size,
      () => null,
    );
    if (size === null) return `artefact ${role}: ${shown} does not exist`;
    if (size !== a.bytes) return `artefact ${role}: ${shown} has ${size} bytes, result.json says ${a.bytes}`;
    const sha = await sha256File(file);
    if (sha !== a.sha256) return `artefact ${role}: ${shown} has sha256 ${sha}, result.json says ${a.sha256}`;
  }
  return null;
}

/** The last `lines` lines of a log, without reading a multi-GB log whole. */
export async function logTail(logPath: string, lines = 20): Promise<string[]> {
  const fh = await open(logPath, "r").catch(() => null);
  if (fh === null) return [];
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const all = buf.toString("utf8").replace(/\s+$/, "").split(/\r?\n/);
    return all.slice(-lines);
  } finally {
    await fh.close();
  }
}

/**
 * What the user sees first when a stage did not succeed: the stage and the upstream package (with
 * version) that raised, the error, then the log tail and the log's path.
 */
export async function describeFailure(
  outcome: Pick<StageOutcome, "stage" | "kind" | "result" | "reason" | "logPath">,
  tailLines = 20,
): Promise<string> {
  const err = outcome.result?.error ?? null;
  const pkg = err?.package ? ` in ${err.package}${err.package_version ? ` ${err.package_version}` : ""}` : "";
  const head =
    err === null
      ? `stage ${outcome.stage}: ${outcome.kind}: ${outcome.reason ?? "?"}`
      : `stage ${outcome.stage} failed${pkg}: ${err.type}: ${err.message}` +
        (outcome.kind === "stage-failure" ? "" : ` [${outcome.kind}: ${outcome.reason ?? ""}]`);
  const lines = [head];
  if (err?.hint) lines.push(`  hint: ${err.hint}`);
  const tail = await logTail(outcome.logPath, tailLines);
  const shownLog = displayPath(outcome.logPath);
  if (tail.length > 0) {
    lines.push(`  --- last ${tail.length} lines of ${shownLog} ---`);
    for (const l of tail) lines.push(`  | ${l}`);
  }
  lines.push(`  log: ${shownLog}`);
  return lines.join("\n");
}
