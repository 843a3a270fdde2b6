/**
 * The CLI behind the `pte-farm` bin: picks the command from the table below and is the one place
 * per process where errors become exit codes (ConfigurationError → 2, InfrastructureError → 3,
 * anything else is our bug → 3 with its stack). Each command is one file here with its usage and
 * its own argv parser; `pte-farm help CMD` and `pte-farm CMD --help` print that usage only.
 */
import { noSpaceMessage } from "../core/disk.ts";
import { ConfigurationError, EXIT, type ExitCode, InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { BISECT_USAGE, bisectCli } from "./bisect.ts";
import { CANARIES_USAGE, canariesCli } from "./canaries.ts";
import { COMPARE_USAGE, compareCli } from "./compare.ts";
import { DASHBOARD_USAGE, dashboardCli } from "./dashboard.ts";
import { DETECT_USAGE, detectCli } from "./detect.ts";
import { EXPORT_USAGE, exportCli } from "./export.ts";
import { FETCH_USAGE, fetchCli } from "./fetch.ts";
import { HEALTH_USAGE, healthCli } from "./health.ts";
import { HISTORY_USAGE, historyCli } from "./history.ts";
import { PLAN_USAGE, planCli } from "./plan.ts";
import { REPORT_USAGE, reportCli } from "./report.ts";
import { RUN_USAGE, runCli } from "./run.ts";
import { TOOLCHAIN_USAGE, toolchainCli } from "./toolchain.ts";
import { VALIDATE_USAGE, validateCli } from "./validate.ts";
import { WATCHDOG_USAGE, watchdogCli } from "./watchdog.ts";

interface Command {
  /** The command's line in the overview. */
  summary: string;
  /** What `pte-farm help CMD` prints (the command prints the same on --help). */
  usage: string;
  cli: (argv: string[], logger: Logger) => Promise<ExitCode>;
}

/** Every command, in the overview's order. */
const COMMANDS = new Map<string, Command>([
  [
    "run",
    {
      summary:
        "run cells end to end on this machine (reference → export → quantize → lower → execute → gate)",
      usage: RUN_USAGE,
      cli: runCli,
    },
  ],
  [
    "plan",
    {
      summary: "expand the matrix into GitHub Actions build and device job lists for an event",
      usage: PLAN_USAGE,
      cli: planCli,
    },
  ],
  [
    "validate",
    {
      summary: "check a matrix; errors name file:line:column and the allowed values",
      usage: VALIDATE_USAGE,
      cli: validateCli,
    },
  ],
  [
    "compare",
    {
      summary: "head vs base run records → per-metric verdicts with CIs",
      usage: COMPARE_USAGE,
      cli: compareCli,
    },
  ],
  [
    "detect",
    { summary: "change points in a cell's history of run records", usage: DETECT_USAGE, cli: detectCli },
  ],
  [
    "history",
    {
      summary: "append run records to a history store, or list a cell's records",
      usage: HISTORY_USAGE,
      cli: historyCli,
    },
  ],
  [
    "export",
    {
      summary: "run records as PyTorch OSS benchmark v3, github-action-benchmark or Bencher BMF JSON",
      usage: EXPORT_USAGE,
      cli: exportCli,
    },
  ],
  [
    "report",
    {
      summary: "run records → the bench report (the PR comment's table) as markdown or JSON",
      usage: REPORT_USAGE,
      cli: reportCli,
    },
  ],
  [
    "dashboard",
    {
      summary:
        "the history as a static site (farm overview, a page per cell, devices, releases); serve it locally",
      usage: DASHBOARD_USAGE,
      cli: dashboardCli,
    },
  ],
  [
    "health",
    {
      summary: "check this runner (LAVA states good | unknown | bad | maintenance); list quarantined devices",
      usage: HEALTH_USAGE,
      cli: healthCli,
    },
  ],
  [
    "watchdog",
    {
      summary: "in a workflow run: record device jobs no runner picked up as infra-error (no runner online)",
      usage: WATCHDOG_USAGE,
      cli: watchdogCli,
    },
  ],
  [
    "canaries",
    {
      summary:
        "run each known issue's canary on every toolchain: still reproduces, or possibly fixed upstream",
      usage: CANARIES_USAGE,
      cli: canariesCli,
    },
  ],
  [
    "bisect",
    {
      summary: "find the package and release that first break a cell between a good and a bad toolchain",
      usage: BISECT_USAGE,
      cli: bisectCli,
    },
  ],
  [
    "toolchain",
    {
      summary:
        "resolve a toolchain (a channel: the newest upstream releases) into a lock; build a lock's environment",
      usage: TOOLCHAIN_USAGE,
      cli: toolchainCli,
    },
  ],
  [
    "fetch",
    {
      summary: "download one cell's .pte from a farm release, verified against its manifest and SHA256SUMS",
      usage: FETCH_USAGE,
      cli: fetchCli,
    },
  ],
]);

const OVERVIEW = `usage: pte-farm <command> [options]

commands:
${[...COMMANDS].map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join("\n")}

pte-farm help COMMAND (or pte-farm COMMAND --help) prints that command's options.

environment: PTE_FARM_PYTHON (the toolchain's python; default .venv/bin/python), PTE_FARM_CACHE

exit codes: 0 all passed · 1 a gate or stage failed · 2 bad input or usage · 3 infrastructure or timeout`;

/** The command called `name`; an unknown name is bad input that lists the known ones. */
function commandNamed(name: string): Command {
  const command = COMMANDS.get(name);
  if (command === undefined) {
    throw new ConfigurationError(
      `unknown command ${JSON.stringify(name)}; known commands: ${[...COMMANDS.keys()].join(", ")}\n\n${OVERVIEW}`,
    );
  }
  return command;
}

/** Runs the CLI and returns its exit code; never throws. */
export async function main(argv: string[], logger: Logger): Promise<ExitCode> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      logger.info(OVERVIEW);
      return EXIT.usage;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      const [topic] = rest;
      logger.info(topic === undefined ? OVERVIEW : commandNamed(topic).usage);
      return EXIT.ok;
    }
    return await commandNamed(name).cli(rest, logger);
  } catch (err) {
    if (err instanceof ConfigurationError) {
      logger.error(err.message);
      return EXIT.usage;
    }
    if (err instanceof InfrastructureError) {
      logger.error(`infrastructure: ${err.message}`);
      return EXIT.infra;
    }
    const full = noSpaceMessage(err);
    if (full !== null) {
      logger.error(`infrastructure: ${full}`);
      return EXIT.infra;
    }
    logger.error(`internal error (a pte-farm bug; please report it): ${(err as Error).stack ?? String(err)}`);
    return EXIT.infra;
  }
}
