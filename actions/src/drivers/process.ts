/**
 * Runs one native program (llama_main, an FVP) for a driver: stdout and stderr kept apart (the
 * parsers need stdout alone) and both appended to the step's log, a deadline after which the
 * whole process group is killed (an FVP or a runner may leave children), and an outcome that
 * tells "we killed it" from "it died" from "it never started".
 *
 * Output goes to files, not pipes: a grandchild that outlives its parent (or escapes the group
 * kill) would hold a pipe open and keep us waiting for it; a file it can write to forever.
 */

import { type FileHandle, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { killOnCancel, runCancelled } from "../core/cancel.ts";
import { waitGroupGone } from "../core/process-group.ts";
import { shellQuote } from "../pipeline/triage.ts";

export interface ProcessResult {
  argv: string[];
  exitCode: number | null;
  /** The signal that ended it, whether or not we sent it. */
  signal: string | null;
  /** We killed it at the deadline. */
  timedOut: boolean;
  /** We killed it because the run was cancelled (core/cancel.ts); or it never started for that. */
  cancelled: boolean;
  /** It never started (ENOENT, EACCES, ...). */
  spawnError: string | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export interface RunProcessOptions {
  cwd: string;
  env?: Record<string, string>;
  /** performance.now() value after which the process group gets SIGTERM, then SIGKILL. */
  deadline: number;
  /** Between SIGTERM and SIGKILL (default 5 s). */
  graceMs?: number;
  /** The step's log, appended to. */
  log: FileHandle;
  /** The run's cancellation (default: the process's, core/cancel.ts). */
  cancel?: AbortSignal;
}

/** The argv as a shell line, for logs and reproduce lines. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

let captures = 0;

export async function runProcess(argv: readonly string[], opts: RunProcessOptions): Promise<ProcessResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("bug: runProcess without a program");
  const cancel = opts.cancel ?? runCancelled;
  if (cancel.aborted) {
    await opts.log.appendFile(`$ ${commandLine(argv)}\n--- not started: ${String(cancel.reason)}\n\n`);
    const none = { exitCode: null, signal: null, timedOut: false, spawnError: null, stdout: "", stderr: "" };
    return { argv: [...argv], ...none, cancelled: true, wallMs: 0 };
  }
  await opts.log.appendFile(`$ ${commandLine(argv)}\n`);
  const started = performance.now();
  let timedOut = false;
  const capture = path.join(opts.cwd, `.process-${process.pid}-${++captures}`);
  const out = await open(`${capture}.stdout`, "w");
  const err = await open(`${capture}.stderr`, "w");
  // Raw descriptors: execa's types list fds 1-9 only, but any open descriptor works (see pipeline/stage-process.ts).
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdin: "ignore",
    stdout: out.fd as 1,
    stderr: err.fd as 2,
    reject: false,
    killDescendants: true,
    forceKillAfterDelay: opts.graceMs ?? 5000,
    cleanup: true,
  });
  const timer = setTimeout(
    () => {
      timedOut = true;
      child.kill("SIGTERM");
    },
    Math.max(0, opts.deadline - performance.now()),
  );
  const cancelKill = killOnCancel(child, cancel, opts.graceMs ?? 5000);
  const res = await child;
  clearTimeout(timer);
  cancelKill.stop();
  const cancelled = cancelKill.fired;
  // It is gone; whatever is left in its process group is a straggler.
  child.kill("SIGKILL");
  // Signals arrive asynchronously: return only once nothing of the tree runs.
  if (child.pid !== undefined) await waitGroupGone(child.pid);
  await out.close();
  await err.close();
  const stdout = await readFile(`${capture}.stdout`, "utf8");
  const stderr = await readFile(`${capture}.stderr`, "utf8");
  await rm(`${capture}.stdout`, { force: true });
  await rm(`${capture}.stderr`, { force: true });
  await opts.log.appendFile(`--- stdout\n${stdout}\n--- stderr\n${stderr}\n`);
  const spawnError =
    res.exitCode === undefined && res.signal === undefined
      ? (res.code ?? res.shortMessage ?? "unknown error")
      : null;
  const result: ProcessResult = {
    argv: [...argv],
    exitCode: res.exitCode ?? null,
    signal: res.signal ?? null,
    timedOut,
    cancelled,
    spawnError,
    stdout,
    stderr,
    wallMs: performance.now() - started,
  };
  await opts.log.appendFile(
    `--- ${spawnError ?? (cancelled ? `killed: ${String(cancel.reason)}` : timedOut ? "killed at the deadline" : `exit ${result.exitCode ?? result.signal}`)} ` +
      `after ${(result.wallMs / 1000).toFixed(1)} s\n\n`,
  );
  return result;
}
