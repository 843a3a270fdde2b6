/**
 * A full disk is the machine's problem, never the model's: the farm's own writes (history,
 * cache, release staging) turn ENOSPC and EDQUOT into an infrastructure error (exit 3) that names
 * the path, what the write needed and what the file system has free, so the first line a user
 * reads says what to clean up.
 */
import { existsSync } from "node:fs";
import { statfs } from "node:fs/promises";
import path from "node:path";
import { InfrastructureError } from "./errors.ts";

export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** "no space left on device writing PATH" for an ENOSPC/EDQUOT error that reached the top, else null. */
export function noSpaceMessage(err: unknown): string | null {
  if (!isNoSpace(err)) return null;
  const where = (err as NodeJS.ErrnoException).path;
  return `no space left on device${where === undefined ? "" : ` writing ${where}`}; free space there and run again`;
}

/** A size for messages: KiB, MiB or GiB. */
export const human = (bytes: number) =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : bytes >= 1024 ** 2
      ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
      : `${Math.round(bytes / 1024)} KiB`;

/** `p`, or its nearest parent that exists (the folder whose file system a write to `p` uses). */
export function existingAncestor(p: string): string {
  let dir = path.resolve(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Free bytes on the file system holding `p` (its nearest existing parent), or null. */
export async function freeBytes(p: string): Promise<number | null> {
  const s = await statfs(existingAncestor(p)).catch(() => null);
  return s === null ? null : s.bavail * s.bsize;
}

/**
 * Whether the file system holding `p` is full: under 1 MiB free. A process that dies writing there
 * (torch's C++ archive writer aborts on ENOSPC instead of raising) died of the full disk.
 */
export async function nearlyFull(p: string): Promise<number | null> {
  const free = await freeBytes(p);
  return free !== null && free < 1024 * 1024 ? free : null;
}

/**
 * Runs a write; an out-of-space failure becomes "infrastructure: no space left on device" with
 * the path and the sizes. Other errors pass through unchanged. `needed` is what the write holds.
 */
export async function writing<T>(where: string, needed: number, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isNoSpace(err)) throw err;
    const free = await freeBytes(where);
    throw new InfrastructureError(
      `no space left on device writing ${where}: it needs ${human(needed)}, the file system has ${
        free === null ? "an unknown amount" : human(free)
      } free; free space there (an old cache or run folder) and run again`,
      { cause: err },
    );
  }
}
