/**
 * One Python environment per toolchain lock, built once and reused: `<root>/<lock id>/`. The
 * stages, the health check and bisection run in it. Built in a temporary folder with exactly the
 * lock (`pip install --no-deps --require-hashes`: no resolver, no stale companion), checked by
 * importing what the farm needs from it, then renamed into place, so a reader sees a whole
 * environment or none. A lock whose packages do not load together (executorch built for another
 * torch) is remembered as incompatible, with the evidence, and not built again. Least-recently-used
 * environments beyond `PTE_FARM_ENV_BUDGET` (default 20 GiB) are removed.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { normalize } from "../core/requirements.ts";
import { type PruneResult, pruneLeastRecent, sizeFromEnv, treeBytes } from "../pipeline/cache-prune.ts";
import { describeLock, type Lock, lockJson, requirementsText } from "./lock.ts";
import { appendLog, classifyPipFailure, pip, pipEvidence } from "./pip.ts";
import { ToolchainIncompatibleError } from "./resolve.ts";

export const ENVS_ENV = "PTE_FARM_ENVS";
export const ENV_BUDGET_ENV = "PTE_FARM_ENV_BUDGET";

/** `$PTE_FARM_ENVS`, else `$XDG_CACHE_HOME/pte-farm/envs` (`~/.cache/pte-farm/envs`). */
export function defaultEnvsRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env[ENVS_ENV]) return path.resolve(env[ENVS_ENV] as string);
  const cache = env.XDG_CACHE_HOME || path.join(homedir(), ".cache");
  return path.join(cache, "pte-farm", "envs");
}

/**
 * What must import for the farm to use an environment, by the package that provides it. Only the
 * packages a lock holds are checked, so a lock of other packages (a test's) is checked for what it has.
 * `portable_lib` is the extension built against one torch: where executorch 1.3.1 meets torch 2.13.0
 * it fails with `undefined symbol` (the ABI).
 */
export const LOAD_CHECKS: Record<string, string[]> = {
  torch: ["torch"],
  executorch: ["executorch.exir", "executorch.extension.pybindings.portable_lib"],
  torchao: ["torchao.quantization"],
  transformers: ["transformers"],
  tokenizers: ["tokenizers"],
};

export interface Env {
  lock: Lock;
  dir: string;
  python: string;
  /** False when it was built by this call. */
  cached: boolean;
  /** Seconds this call spent building it (0 for a cached one). */
  buildS: number;
  bytes: number;
}

interface ReadyStamp {
  built_at: string;
  build_s: number;
  bytes: number;
}

interface IncompatibleStamp {
  message: string;
  evidence: string;
}

export interface EnvOptions {
  /** The interpreter that makes the environment (`python -m venv`) and whose pip installs into it. */
  python: string;
  root?: string;
  logger: Logger;
  /** The file pip's and the load check's whole output is appended to. */
  logFile: string;
}

function importScript(modules: readonly string[]): string {
  return `import importlib\nfor m in ${JSON.stringify(modules)}:\n    importlib.import_module(m)\n`;
}

export function loadModules(lock: Lock): string[] {
  const held = new Set(lock.packages.map((p) => normalize(p.name)));
  return Object.entries(LOAD_CHECKS).flatMap(([pkg, mods]) => (held.has(pkg) ? mods : []));
}

/** The environment for `lock`: the cached one, or one built now. Throws ToolchainIncompatibleError or InfrastructureError. */
export async function ensureEnv(lock: Lock, opts: EnvOptions): Promise<Env> {
  const root = opts.root ?? defaultEnvsRoot();
  const dir = path.join(root, lock.id);
  const python = path.join(dir, "bin", "python");
  const log = (text: string) => appendLog(opts.logFile, text);
  const ready = await readFile(path.join(dir, ".ready.json"), "utf8").catch(() => null);
  if (ready !== null) {
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    return { lock, dir, python, cached: true, buildS: 0, bytes: (JSON.parse(ready) as ReadyStamp).bytes };
  }
  const known = await readFile(path.join(dir, ".incompatible.json"), "utf8").catch(() => null);
  if (known !== null) {
    const k = JSON.parse(known) as IncompatibleStamp;
    throw new ToolchainIncompatibleError(k.message, k.evidence);
  }

  const start = Date.now();
  await mkdir(root, { recursive: true });
  const tmp = path.join(root, `${lock.id}.partial-${process.pid}-${randomBytes(3).toString("hex")}`);
  opts.logger.info(
    `toolchain ${lock.toolchain}: building environment ${lock.id} (${lock.packages.length} packages)`,
  );
  try {
    const venv = await execa(opts.python, ["-m", "venv", "--without-pip", tmp], { reject: false, all: true });
    if (venv.exitCode !== 0) {
      throw new InfrastructureError(
        `cannot create a virtual environment in ${tmp}: ${venv.all ?? venv.shortMessage}`,
      );
    }
    await writeFile(path.join(tmp, "lock.json"), lockJson(lock));
    await writeFile(path.join(tmp, "requirements.lock.txt"), requirementsText(lock));
    const envPython = path.join(tmp, "bin", "python");
    const install = await pip(opts.python, [
      "--python",
      envPython,
      "install",
      "--no-deps",
      "--require-hashes",
      // No bytecode at install: compiling torch's and transformers' sources is a third of the
      // build, and Python writes the bytecode of what is imported on first use anyway.
      "--no-compile",
      "--quiet",
      "-r",
      path.join(tmp, "requirements.lock.txt"),
    ]);
    await log(`$ pip install --no-deps --require-hashes (lock ${lock.id})\n${install.output}`);
    if (!install.ok) {
      const evidence = pipEvidence(install.output);
      if (classifyPipFailure(install.output) === "infra") {
        throw new InfrastructureError(`building the environment of lock ${lock.id}: pip failed: ${evidence}`);
      }
      await remember(root, dir, {
        message: `toolchain incompatible: lock ${lock.id} (${lock.toolchain}) does not install: ${evidence.split("\n").slice(-1)[0] ?? ""}`,
        evidence,
      });
    }
    const modules = loadModules(lock);
    if (modules.length > 0) {
      const check = await execa(envPython, ["-c", importScript(modules)], {
        reject: false,
        all: true,
        env: { PYTHONNOUSERSITE: "1" },
      });
      await log(`$ python -c 'import ${modules.join(", ")}' (lock ${lock.id})\n${check.all ?? ""}`);
      if (check.exitCode !== 0) {
        const evidence = pipEvidence(check.all ?? check.shortMessage, 6);
        const last = evidence.split("\n").slice(-1)[0] ?? "";
        await remember(root, dir, {
          message: `toolchain incompatible: the packages of lock ${lock.id} (${lock.toolchain}: ${describeLock(lock)}) do not load together: ${last}`,
          evidence,
        });
      }
    }
    const bytes = await treeBytes(tmp);
    const stamp: ReadyStamp = {
      built_at: new Date().toISOString(),
      build_s: (Date.now() - start) / 1000,
      bytes,
    };
    await writeFile(path.join(tmp, ".ready.json"), `${JSON.stringify(stamp)}\n`);
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another process built the same lock first: use theirs.
      if (!existsSync(path.join(dir, ".ready.json"))) throw e;
    });
    return { lock, dir, python, cached: false, buildS: stamp.build_s, bytes };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function remember(root: string, dir: string, stamp: IncompatibleStamp): Promise<never> {
  const aside = path.join(
    root,
    `${path.basename(dir)}.verdict-${process.pid}-${randomBytes(3).toString("hex")}`,
  );
  await mkdir(aside, { recursive: true });
  await writeFile(path.join(aside, ".incompatible.json"), `${JSON.stringify(stamp, null, 2)}\n`);
  await rename(aside, dir).catch(() => rm(aside, { recursive: true, force: true }));
  throw new ToolchainIncompatibleError(stamp.message, stamp.evidence);
}

export function envBudget(env: NodeJS.ProcessEnv = process.env): number {
  return sizeFromEnv(ENV_BUDGET_ENV, 20 * 1024 ** 3, env);
}

/** Removes least-recently-used environments until the rest fit the budget; ones used since `keepSince` stay. */
export async function pruneEnvs(root: string, budget: number, keepSince: number): Promise<PruneResult> {
  const entries: { dir: string; used: number; bytes: number }[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.includes(".")) continue;
    const dir = path.join(root, name);
    const s = await stat(dir).catch(() => null);
    const ready = await readFile(path.join(dir, ".ready.json"), "utf8").catch(() => null);
    if (s === null || ready === null) continue;
    entries.push({ dir, used: s.mtimeMs, bytes: (JSON.parse(ready) as ReadyStamp).bytes });
  }
  return pruneLeastRecent(entries, budget, keepSince);
}
