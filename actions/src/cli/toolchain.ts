/**
 * `pte-farm toolchain resolve|env`: a toolchain of the matrix resolved into a lock (a channel
 * reads the package index's newest releases), and a lock's environment built or found. A toolchain
 * that does not resolve or whose packages do not load together is exit 3 with the evidence: an
 * infrastructure-class verdict about upstream, never a model failure.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadFarm } from "../../../matrix/load.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultPython } from "../core/paths.ts";
import { defaultEnvsRoot, ensureEnv } from "../toolchain/envs.ts";
import { describeLock, type Lock, lockJson, readLock } from "../toolchain/lock.ts";
import { resolveToolchain, ToolchainIncompatibleError } from "../toolchain/resolve.ts";
import { usageErrors } from "./args.ts";

export const TOOLCHAIN_USAGE = `pte-farm toolchain resolve NAME [--out LOCK.json] [--matrix FILE]
pte-farm toolchain env LOCK.json|NAME [--matrix FILE]
  resolve           resolves the matrix's toolchain NAME with pip against the package index
                    (a channel: its tracked packages at their newest releases that go together,
                    held ones at their pins) and writes the lock: every package's exact version,
                    wheel address and sha256 (default: stdout)
  env               builds (once; cached by the lock's id under $PTE_FARM_ENVS, default
                    ~/.cache/pte-farm/envs) the lock's environment, checks its packages load
                    together, and prints its python
  exit 3 with "toolchain incompatible: …" when the set does not resolve or does not load`;

async function lockFor(arg: string, matrix: string, logger: Logger, logFile: string): Promise<Lock> {
  if (arg.endsWith(".json")) return readLock(arg);
  const farm = await loadFarm(matrix);
  const tc = farm.toolchains.get(arg);
  if (tc === undefined) {
    throw new ConfigurationError(
      `toolchain ${JSON.stringify(arg)} is not in ${matrix}; known: ${[...farm.toolchains.keys()].join(", ")} (or pass a lock.json)`,
    );
  }
  return resolveToolchain(tc, { python: defaultPython(), logger, logFile });
}

export async function toolchainCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values, positionals } = usageErrors("toolchain", () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: "string" },
        matrix: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(TOOLCHAIN_USAGE);
    return EXIT.ok;
  }
  const [verb, arg, ...rest] = positionals;
  if ((verb !== "resolve" && verb !== "env") || arg === undefined || rest.length > 0) {
    throw new ConfigurationError(
      `expected \`toolchain resolve NAME\` or \`toolchain env LOCK|NAME\`\n\n${TOOLCHAIN_USAGE}`,
    );
  }
  const matrix = values.matrix ?? DEFAULT_MATRIX;
  const logFile = path.join(defaultEnvsRoot(), "toolchains.log");
  try {
    const lock = await lockFor(arg, matrix, logger, logFile);
    if (verb === "resolve") {
      const line = `toolchain ${lock.toolchain}: lock ${lock.id}: ${describeLock(lock)} (${lock.packages.length} packages)`;
      // Without --out the lock is stdout, so the line goes to stderr.
      if (values.out === undefined) process.stdout.write(lockJson(lock));
      else await writeFile(values.out, lockJson(lock));
      if (values.out === undefined) process.stderr.write(`${line}\n`);
      else logger.info(`${line} → ${values.out}`);
      return EXIT.ok;
    }
    const env = await ensureEnv(lock, { python: defaultPython(), logger, logFile });
    logger.info(env.python);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ToolchainIncompatibleError)) throw err;
    logger.error(`${err.message}\n${err.evidence}\n(pip's whole output: ${logFile})`);
    return EXIT.infra;
  }
}
