/**
 * Cancellation: what happens when GitHub cancels a job (a PR author pushed again, a maintainer
 * pressed cancel) or a user presses Ctrl-C. The runner sends the process SIGINT, then SIGTERM
 * 7.5 s later, then SIGKILL 2.5 s after that; everything has to be down before the last one.
 *
 * The first SIGINT or SIGTERM aborts {@link runCancelled}. Whatever is running (a stage's process
 * group, llama_main, an FVP) gets SIGTERM at once and SIGKILL after {@link CANCEL_GRACE_MS}; no
 * new stage or program starts; every cell still gets its record, with status `cancelled` (never a
 * failure, never a regression) and its logs kept; the command exits 3. A second signal ends
 * the process at once (exit 3): by then the first has had its time.
 */

const controller = new AbortController();

/** Aborted once the run is cancelled; its `reason` is a sentence (e.g. "SIGINT received"). */
export const runCancelled: AbortSignal = controller.signal;

/** SIGTERM → SIGKILL for a cancelled run's processes: well inside the runner's 7.5 s. */
export const CANCEL_GRACE_MS = 3000;

/** Every reason a cancelled step gives starts so; records/build.ts maps it to status `cancelled`. */
export const CANCELLED = "cancelled: ";

/**
 * While attached, a cancellation kills `child` (SIGTERM, then SIGKILL after `graceMs`, at most
 * {@link CANCEL_GRACE_MS}); the stage runner and the native programs' runner both use it.
 * `fired` says whether it did; `stop()` detaches once the child is gone.
 */
export function killOnCancel(
  child: { kill(signal: "SIGTERM" | "SIGKILL"): boolean },
  cancel: AbortSignal,
  graceMs: number,
): { readonly fired: boolean; stop(): void } {
  let fired = false;
  const onAbort = () => {
    fired = true;
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), Math.min(graceMs, CANCEL_GRACE_MS)).unref();
  };
  cancel.addEventListener("abort", onAbort, { once: true });
  return {
    get fired() {
      return fired;
    },
    stop: () => cancel.removeEventListener("abort", onAbort),
  };
}

export function cancelRun(why: string): void {
  if (!controller.signal.aborted) controller.abort(why);
}

/** "cancelled: SIGINT received; …" for a step that `what` (e.g. "its process group was killed"). */
export function cancelledReason(signal: AbortSignal, what: string): string {
  return `${CANCELLED}${String(signal.reason ?? "the run was cancelled")}; ${what}`;
}

export function isCancelledReason(reason: string | null | undefined): boolean {
  return reason?.startsWith(CANCELLED) ?? false;
}

let installed = false;

/** Installs the SIGINT/SIGTERM handlers (the CLI and each action do, once per process). */
export function cancelOnSignals(): void {
  if (installed) return;
  installed = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      // The second signal (the runner's SIGTERM 7.5 s after its SIGINT) ends the process now.
      if (runCancelled.aborted) process.exit(3);
      cancelRun(`${sig} received`);
    });
  }
}
