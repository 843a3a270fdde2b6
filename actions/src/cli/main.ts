/**
 * The CLI behind the `pte-farm` bin: parses argv, dispatches to a command, and is the one place
 * per process where errors become exit codes (ConfigurationError → 2, InfrastructureError → 3,
 * anything else is our bug → 3 with its stack).
 */
import { parseArgs } from "node:util";
import { EVENTS, type FarmEvent } from "../../../matrix/schema.ts";
import { ConfigurationError, EXIT, type ExitCode, InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultCacheDir, defaultPython } from "../core/paths.ts";
import { runCommand } from "../pipeline/local-run.ts";
import { ROLES, type Role } from "../schemas/run-record.ts";
import { usageErrors } from "./args.ts";
import { compareCommand, detectCommand } from "./compare.ts";
import { FETCH_USAGE, fetchCli } from "./fetch.ts";
import { HEALTH_USAGE, healthCli } from "./health.ts";
import { planCommand, validateCommand } from "./matrix.ts";
import { exportCommand, historyAppend, historyList } from "./records.ts";
import { REPORT_USAGE, reportCli } from "./report.ts";

const USAGE = `usage: pte-farm <command> [options]

commands:
  run       run cells end to end on this machine (reference → export → quantize → lower → execute → gate)
  plan      expand the matrix into GitHub Actions build and device job lists for an event
  validate  check a matrix; errors name file:line:column and the allowed values
  compare   head vs base run records → per-metric verdicts with CIs
  detect    change points in a cell's history of run records
  history   append run records to a history store, or list a cell's records
  export    run records as PyTorch OSS benchmark v3, github-action-benchmark or Bencher BMF JSON
  report    run records → the bench report (the PR comment's table) as markdown or JSON
  health    check this runner (LAVA states good | unknown | bad | maintenance); list quarantined devices
  fetch     download one cell's .pte from a farm release, verified against its manifest and SHA256SUMS

pte-farm run [options]
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

pte-farm plan --event EVENT [options]
  --event EVENT          ${EVENTS.join(" | ")}
  --matrix FILE          farm definition (default: matrix/farm.yml)
  --changed-files FILE   changed paths, one per line (pull_request: selects the affected cells)
  --base-matrix FILE     the base's farm.yml, to diff when the matrix itself changed
  --history STORE        devices this history store shows quarantined get no jobs (skipped, "quarantined: …")
  prints JSON {event, builds, devices, shards, skipped, selection}; appends it to $GITHUB_OUTPUT if set

pte-farm validate [--matrix FILE]

pte-farm compare --base A.json --head B.json [options]
  --format json|markdown  (default json) per metric {verdict, ratio, ci, p_value, more_samples} and
                          an overall verdict; exit 1 on a regression, 0 otherwise (inconclusive included)
  --across-toolchains     allow base and head from different toolchains (never different devices)
  --config FILE           minimum effects and between-session spread (default: matrix/compare.yml)

pte-farm detect --history DIR|FILE [--history ...] --cell ID --metric NAME [--config FILE]
  change points in the cell's nightly series (candidates: an issue needs a confirming re-run)

pte-farm history append --store STORE RECORD...
pte-farm history list --store STORE [--cell ID]
  STORE             dir:PATH (one JSON file per record) or git:REPO[#branch] (a data branch,
                    default pte-farm-data; pushed to origin when the repository has one)

pte-farm export --format pytorch-v3|gab-bigger|bencher-bmf RECORD...
  prints JSON; throttled or hot reps (sample_flags) are left out of every value

${REPORT_USAGE}

${HEALTH_USAGE}

${FETCH_USAGE}

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

/** Runs an argv parse, turning its usage errors into ConfigurationErrors (exit 2). */
async function validate(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("validate", () =>
    parseArgs({
      args: argv,
      options: { matrix: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help) {
    logger.info(USAGE);
    return EXIT.ok;
  }
  await validateCommand({ matrix: values.matrix ?? DEFAULT_MATRIX, logger });
  return EXIT.ok;
}

async function plan(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("plan", () =>
    parseArgs({
      args: argv,
      options: {
        matrix: { type: "string" },
        event: { type: "string" },
        "changed-files": { type: "string" },
        "base-matrix": { type: "string" },
        history: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(USAGE);
    return EXIT.ok;
  }
  const { event } = values;
  if (event === undefined || !(EVENTS as readonly string[]).includes(event)) {
    throw new ConfigurationError(`--event ${event ?? "(missing)"}: expected one of ${EVENTS.join(", ")}`);
  }
  const changedFiles = values["changed-files"];
  const baseMatrix = values["base-matrix"];
  await planCommand({
    matrix: values.matrix ?? DEFAULT_MATRIX,
    event: event as FarmEvent,
    ...(changedFiles === undefined ? {} : { changedFiles }),
    ...(baseMatrix === undefined ? {} : { baseMatrix }),
    ...(values.history === undefined ? {} : { history: values.history }),
    logger,
    env: process.env,
  });
  return EXIT.ok;
}

async function compare(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("compare", () =>
    parseArgs({
      args: argv,
      options: {
        base: { type: "string" },
        head: { type: "string" },
        format: { type: "string" },
        "across-toolchains": { type: "boolean" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(USAGE);
    return EXIT.ok;
  }
  if (values.base === undefined || values.head === undefined) {
    throw new ConfigurationError("compare needs --base A.json and --head B.json (run records)");
  }
  const format = values.format ?? "json";
  if (format !== "json" && format !== "markdown") {
    throw new ConfigurationError(`--format ${format}: expected one of json, markdown`);
  }
  const result = await compareCommand({
    base: values.base,
    head: values.head,
    format,
    acrossToolchains: values["across-toolchains"] ?? false,
    ...(values.config === undefined ? {} : { config: values.config }),
    logger,
  });
  if (result.verdict === "inconclusive") {
    logger.warn("inconclusive: see more_samples for the reps per side that would decide it");
  }
  return result.verdict === "regression" ? EXIT.failed : EXIT.ok;
}

async function detect(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("detect", () =>
    parseArgs({
      args: argv,
      options: {
        history: { type: "string", multiple: true },
        cell: { type: "string" },
        metric: { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(USAGE);
    return EXIT.ok;
  }
  if (values.history === undefined || values.cell === undefined || values.metric === undefined) {
    throw new ConfigurationError("detect needs --history DIR|FILE, --cell ID and --metric NAME");
  }
  await detectCommand({
    history: values.history,
    cell: values.cell,
    metric: values.metric,
    ...(values.config === undefined ? {} : { config: values.config }),
    logger,
  });
  return EXIT.ok;
}

async function run(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = parseRunArgs(argv);
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
    ...(values["base-out"] === undefined ? {} : { baseOut: values["base-out"] }),
    ...(values.history === undefined ? {} : { history: values.history }),
    logger,
  });
  return outcome.exitCode;
}

async function history(argv: string[], logger: Logger): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  const { values, positionals } = usageErrors("history", () =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: { store: { type: "string" }, cell: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help || sub === "--help" || sub === "-h") {
    logger.info(USAGE);
    return EXIT.ok;
  }
  if (values.store === undefined)
    throw new ConfigurationError("history: --store dir:PATH | git:REPO[#branch] is required");
  if (sub === "append") {
    await historyAppend({ store: values.store, files: positionals, logger });
    return EXIT.ok;
  }
  if (sub === "list") {
    await historyList({
      store: values.store,
      ...(values.cell === undefined ? {} : { cell: values.cell }),
      logger,
    });
    return EXIT.ok;
  }
  throw new ConfigurationError(`history ${sub ?? "(missing)"}: expected append or list`);
}

async function exportRecords(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values, positionals } = usageErrors("export", () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help) {
    logger.info(USAGE);
    return EXIT.ok;
  }
  await exportCommand({ format: values.format ?? "(missing)", files: positionals, logger });
  return EXIT.ok;
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
        help: { type: "boolean", short: "h" },
      },
    }),
  );
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
    if (command === "plan") return await plan(rest, logger);
    if (command === "validate") return await validate(rest, logger);
    if (command === "compare") return await compare(rest, logger);
    if (command === "detect") return await detect(rest, logger);
    if (command === "history") return await history(rest, logger);
    if (command === "export") return await exportRecords(rest, logger);
    if (command === "report") return await reportCli(rest, logger);
    if (command === "health") return await healthCli(rest, logger);
    if (command === "fetch") return await fetchCli(rest, logger);
    throw new ConfigurationError(
      `unknown command ${JSON.stringify(command)}; known commands: run, plan, validate, compare, detect, history, export, report, health, fetch\n\n${USAGE}`,
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
