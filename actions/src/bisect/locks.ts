/**
 * The lock of one bisection step: the good lock with one package moved to another release, every
 * other package held at its good version. When a requirement forces a companion to move too
 * (transformers 5.12 needs tokenizers <= 0.23.0), pip's conflict report names it, it is unpinned,
 * and the lock says which companions moved: the step is still about one package, and says so.
 */

import type { Logger } from "../core/logger.ts";
import { normalize } from "../core/requirements.ts";
import { diffLocks, type Lock, type LockChange } from "../toolchain/lock.ts";
import { resolveLines, ToolchainIncompatibleError } from "../toolchain/resolve.ts";

/** The packages pip's conflict report says the user's own pins forced ("The user requested tokenizers==0.23.3"). */
export function conflictingPins(evidence: string): string[] {
  return [...evidence.matchAll(/The user requested ([A-Za-z0-9][A-Za-z0-9._-]*)\s*==/g)].map((m) =>
    normalize(m[1] as string),
  );
}

export interface MovedLock {
  lock: Lock;
  /** Other packages that had to move with it, e.g. "tokenizers 0.23.3 → 0.22.1". */
  companions: LockChange[];
}

export async function lockWith(
  good: Lock,
  name: string,
  version: string,
  opts: { python: string; logger: Logger; logFile: string },
): Promise<MovedLock> {
  const target = normalize(name);
  const freed = new Set<string>();
  for (let round = 0; ; round++) {
    const lines = good.packages
      .filter((p) => normalize(p.name) !== target)
      .map((p) => (freed.has(normalize(p.name)) ? p.name : `${p.name}==${p.version}`));
    lines.push(`${name}==${version}`);
    try {
      const lock = await resolveLines(`${good.toolchain}+${target}==${version}`, lines, opts);
      const companions = diffLocks(good, lock).filter((c) => c.name !== target);
      lock.derived = { from: good.id, moved: [target, ...companions.map((c) => c.name)] };
      return { lock, companions };
    } catch (err) {
      if (!(err instanceof ToolchainIncompatibleError) || round >= 4) throw err;
      const more = conflictingPins(err.evidence).filter((n) => n !== target && !freed.has(n));
      if (more.length === 0) throw err;
      for (const n of more) freed.add(n);
    }
  }
}
