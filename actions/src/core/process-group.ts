/**
 * Waiting for a killed process group to be really gone. SIGKILL is delivered asynchronously: a
 * process signalled a moment ago may still be running (on a busy machine, until it is next
 * scheduled), so "we sent SIGKILL" is not "nothing of the stage runs". Whoever kills a tree waits
 * here, so the board is free when the call returns. A zombie counts as gone: it runs nothing, and
 * a container's PID 1 may never reap an orphan.
 */
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** The state letter of each live member of process group `pgid` (Linux /proc); null without /proc. */
async function groupMembers(pgid: number): Promise<string[] | null> {
  const pids = await readdir("/proc").catch(() => null);
  if (pids === null) return null;
  const states: string[] = [];
  for (const pid of pids.filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
    if (stat === null) continue;
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z" && state !== "X") states.push(state ?? "?");
  }
  return states;
}

/** Whether any process of group `pgid` still runs (anything that answers a signal, without /proc). */
async function groupRuns(pgid: number): Promise<boolean> {
  const members = await groupMembers(pgid);
  if (members !== null) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves once nothing of process group `pgid` runs, or after `timeoutMs` (then returns false:
 * the caller says so rather than hang). Sends SIGKILL again on each look, for a member that forked
 * after the first one.
 */
export async function waitGroupGone(pgid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!(await groupRuns(pgid))) return true;
    if (performance.now() > deadline) return false;
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // The group emptied between the look and the signal.
    }
    await sleep(20);
  }
}
