/**
 * The CLI behind the `pte-farm` bin: parses argv, dispatches to a command, and is the one place
 * per process where errors become exit codes (ConfigurationError → 2, InfrastructureError → 3,
 * anything else is our bug → 3 with its stack).
 */
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode, InfrastructureError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { DEFAULT_MATRIX, defaultCacheDir, defaultPython } from "./paths.ts";
import { runCommand } from "./run.ts";
import { ROLES, type Role } from "./schemas/run-record.ts";

const USAGE = `usage: pte-farm <command> [options]

commands:
  run     run cells end to end on this machine (reference → export → quantize → lower → execute → gate)

pte-farm run [options]
  --matrix FILE     farm definition (default: matrix/farm.yml)
  --cells GLOBS     comma-separated cell-id globs, e.g. 'tiny-llama/*/xnnpack/host@stable'
                    (ids are model/recipe/backend/device@toolchain; * stays within one part,
                    ** spans parts; default: the matrix's \`default\` cell set)
  --out DIR         output folder, new or empty (default: out/runs/<UTC time>, and out/latest
                    points at the newest default run)
  --reps N          measured repetitions in execute (default 5)
  --warmup N        warm-up repetitions in execute (default 1)
  --no-cache        build every stage afresh and cache nothing (default cache: .cache/pte-farm,
                    or $PTE_FARM_CACHE)
  --timeout-s N     per-stage timeout in seconds; the stage's whole process tree is killed (default 1800)
  --role ROLE       run record role: ${ROLES.join(" | ")} (default head)

environment: PTE_FARM_PYTHON (the toolchain's python; default .venv/bin/python), PTE_FARM_CACHE

exit codes: 0 all passed · 1 a gate or stage failed · 2 bad input or usage · 3 infrastructure or timeout
`;

function count(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigurationError(`${flag} ${value}: expected an integer >= ${min}`);
  }
  return n;
}

async function run(argv: string[], logger: Logger): Promise<ExitCode> {
  let parsed: ReturnType<typeof parseRunArgs>;
  try {
    parsed = parseRunArgs(argv);
  } catch (err) {
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      throw new ConfigurationError(`${err.message}; see \`pte-farm run --help\``);
    }
    throw err;
  }
  const { values } = parsed;
  if (values.help) {
    logger.info(USAGE);
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
    logger,
  });
  return outcome.exitCode;
}

function parseRunArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      matrix: { type: "string" },
      cells: { type: "string" },
      out: { type: "string" },
      reps: { type: "string" },
      warmup: { type: "string" },
      "no-cache": { type: "boolean" },
      "timeout-s": { type: "string" },
      role: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** Runs the CLI and returns its exit code; never throws. */
export async function main(argv: string[], logger: Logger): Promise<ExitCode> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      logger.info(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === "run") return await run(rest, logger);
    throw new ConfigurationError(
      `unknown command ${JSON.stringify(command)}; known commands: run\n\n${USAGE}`,
    );
  } catch (err) {
    if (err instanceof ConfigurationError) {
      logger.error(err.message);
      return EXIT.usage;
    }
    if (err instanceof InfrastructureError) {
      logger.error(`infrastructure: ${err.message}`);
      return EXIT.infra;
    }
    logger.error(`internal error (a pte-farm bug; please report it): ${(err as Error).stack ?? String(err)}`);
    return EXIT.infra;
  }
}
