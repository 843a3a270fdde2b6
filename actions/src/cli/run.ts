/**
 * `pte-farm run`: cells end to end on this machine (pipeline/local-run.ts does the work). argv in,
 * exit code out; main.ts turns thrown errors into exit codes.
 */
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultCacheDir, defaultPython } from "../core/paths.ts";
import { runCommand } from "../pipeline/local-run.ts";
import { ROLES, type Role } from "../schemas/run-record.ts";
import { type Lock, readLock } from "../toolchain/lock.ts";
import { usageErrors } from "./args.ts";

/** `--lock FILE…` by the toolchain each names; two locks for one toolchain are exit 2. */
export async function locksByToolchain(files: readonly string[]): Promise<Map<string, Lock>> {
  const out = new Map<string, Lock>();
  for (const file of files) {
    const lock = await readLock(file);
    if (out.has(lock.toolchain)) {
      throw new ConfigurationError(
        `--lock ${file}: a second lock for toolchain ${lock.toolchain}; pass one per toolchain`,
      );
    }
    out.set(lock.toolchain, lock);
  }
  return out;
}

export const RUN_USAGE = `pte-farm run [options]
  --matrix FILE     farm definition (default: matrix/farm.yml)
  --cells GLOBS     comma-separated cell-id globs, e.g. 'tiny-llama/*/xnnpack/host-x86_64@stable'
                    (ids are model/recipe/backend/device@toolchain; * stays within one part,
                    ** spans parts; default: the matrix's \`run.cells\` set on this machine's device)
  --out DIR         output folder, new or empty (default: out/runs/<UTC time>, and out/latest
                    points at the newest default run)
  --reps N          measured repetitions in execute (default 5)
  --warmup N        warm-up repetitions in execute (default 1)
  --no-cache        build every stage afresh and cache nothing (default cache: .cache/pte-farm,
                    or $PTE_FARM_CACHE)
  --timeout-s N     per-stage timeout in seconds; the stage's whole process tree is killed (default 1800)
  --role ROLE       run record role: ${ROLES.join(" | ")} (default head)
  --base-out DIR    an earlier run's output folder: each cell's base .pte (from its lower stage) is
                    measured interleaved with the head's in ABBA order; writes run.base.json (role
                    base) beside run.json (role head), both with the same session id
  --history STORE   append the run's records to a history store (see pte-farm history)
  --lock FILE       run the lock's toolchain (its \`toolchain\` field) with exactly this lock
                    instead of resolving it now (a lock.json written by pte-farm toolchain resolve);
                    repeatable. A channel (e.g. @latest) without one is resolved from the package index`;

function count(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigurationError(`${flag} ${value}: expected an integer >= ${min}`);
  }
  return n;
}

/** `pte-farm run …`: the outcome's exit code (0 all passed, 1 a gate or stage failed, 3 infrastructure). */
export async function runCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = parseRunArgs(argv);
  if (values.help) {
    logger.info(RUN_USAGE);
    return EXIT.ok;
  }
  const role = values.role ?? "head";
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new ConfigurationError(`--role ${role}: expected one of ${ROLES.join(", ")}`);
  }
  const outcome = await runCommand({
    matrix: values.matrix ?? DEFAULT_MATRIX,
    ...(values.cells === undefined ? {} : { cells: values.cells }),
    ...(values.out === undefined ? {} : { out: values.out }),
    reps: count("--reps", values.reps, 5, 1),
    warmup: count("--warmup", values.warmup, 1, 0),
    cache: !values["no-cache"],
    cacheDir: defaultCacheDir(),
    timeoutS: count("--timeout-s", values["timeout-s"], 1800, 1),
    role: role as Role,
    python: defaultPython(),
    ...(values["base-out"] === undefined ? {} : { baseOut: values["base-out"] }),
    ...(values.history === undefined ? {} : { history: values.history }),
    ...(values.lock === undefined ? {} : { locks: await locksByToolchain(values.lock) }),
    logger,
  });
  return outcome.exitCode;
}

function parseRunArgs(argv: string[]) {
  return usageErrors("run", () =>
    parseArgs({
      args: argv,
      options: {
        matrix: { type: "string" },
        cells: { type: "string" },
        out: { type: "string" },
        reps: { type: "string" },
        warmup: { type: "string" },
        "no-cache": { type: "boolean" },
        "timeout-s": { type: "string" },
        role: { type: "string" },
        "base-out": { type: "string" },
        history: { type: "string" },
        lock: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
}
