/** Process checks for the tests that kill process trees (timeouts, cancellation). */
import { readFile } from "node:fs/promises";

/** Whether `pid` still runs: a zombie (killed, not yet reaped by an init that may never reap it) does not. */
export async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}
