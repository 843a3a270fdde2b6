/**
 * The interpreter each toolchain of a run uses. A pinned toolchain without a lock runs in the
 * farm's own environment (`PTE_FARM_PYTHON`, built by `make setup`); a channel is resolved now (or
 * taken from the plan's locks) and runs in its lock's environment. A toolchain that does not
 * resolve or load is not an error of the run: its cells are recorded as "toolchain incompatible".
 */
import path from "node:path";
import type { ToolchainDef } from "../../../matrix/types.ts";
import type { Logger } from "../core/logger.ts";
import { defaultEnvsRoot, ensureEnv, envBudget, pruneEnvs } from "./envs.ts";
import { describeLock, type Lock } from "./lock.ts";
import { resolveToolchain, ToolchainIncompatibleError } from "./resolve.ts";

export type ToolchainPython =
  | { kind: "ready"; python: string; lock: Lock | null }
  | { kind: "incompatible"; message: string; evidence: string; lock: Lock | null };

export interface ProvideOptions {
  /** The farm's own interpreter: pinned toolchains run in it; it resolves and builds the others. */
  python: string;
  logger: Logger;
  /** Folder for `toolchains.log` (pip's whole output). */
  logDir: string;
  /** Locks already resolved (a plan's), by toolchain name; they win over resolving again. */
  locks?: ReadonlyMap<string, Lock>;
  envsRoot?: string;
}

export async function provideToolchains(
  toolchains: readonly ToolchainDef[],
  opts: ProvideOptions,
): Promise<Map<string, ToolchainPython>> {
  const out = new Map<string, ToolchainPython>();
  const logFile = path.join(opts.logDir, "toolchains.log");
  const root = opts.envsRoot ?? defaultEnvsRoot();
  const start = Date.now();
  for (const tc of toolchains) {
    if (out.has(tc.name)) continue;
    let lock = opts.locks?.get(tc.name) ?? null;
    if (lock === null && tc.channel === null) {
      out.set(tc.name, { kind: "ready", python: opts.python, lock: null });
      continue;
    }
    try {
      if (lock === null) {
        opts.logger.info(
          `toolchain ${tc.name}: resolving ${tc.channel?.track.join(", ")} from the package index`,
        );
        lock = await resolveToolchain(tc, { python: opts.python, logger: opts.logger, logFile });
      }
      const env = await ensureEnv(lock, { python: opts.python, root, logger: opts.logger, logFile });
      opts.logger.info(
        `toolchain ${tc.name}: lock ${lock.id} (${describeLock(lock)}), environment ${env.cached ? "cached" : `built in ${env.buildS.toFixed(0)} s`}`,
      );
      out.set(tc.name, { kind: "ready", python: env.python, lock });
    } catch (err) {
      if (!(err instanceof ToolchainIncompatibleError)) throw err;
      opts.logger.error(`${err.message} (pip's and the load check's output: ${logFile})`);
      out.set(tc.name, { kind: "incompatible", message: err.message, evidence: err.evidence, lock });
    }
  }
  const pruned = await pruneEnvs(root, envBudget(), start);
  if (pruned.removed.length > 0) {
    opts.logger.info(
      `toolchain environments: removed ${pruned.removed.length} least-recently-used to stay within budget`,
    );
  }
  return out;
}
