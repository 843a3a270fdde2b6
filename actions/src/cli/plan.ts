/**
 * `pte-farm plan`: the matrix expanded into the workflows' build and device job lists for an
 * event (plan/outputs.ts), printed as JSON and appended to `$GITHUB_OUTPUT` when that is set.
 */
import { appendFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { EVENTS, type FarmEvent } from "../../../matrix/schema.ts";
import { githubOutput, readableJson } from "../../../matrix/shard.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX } from "../core/paths.ts";
import { type PlanOptions, planOutputs } from "../plan/outputs.ts";
import { usageErrors } from "./args.ts";

export const PLAN_USAGE = `pte-farm plan --event EVENT [options]
  --event EVENT          ${EVENTS.join(" | ")}
  --matrix FILE          farm definition (default: matrix/farm.yml)
  --changed-files FILE   changed paths, one per line (pull_request: selects the affected cells)
  --base-matrix FILE     the base's farm.yml, to diff when the matrix itself changed
  --history STORE        devices this history store shows quarantined get no jobs (skipped, "quarantined: …")
  prints JSON {event, builds, devices, shards, skipped, selection}; appends it to $GITHUB_OUTPUT if set`;

interface PlanCommandOptions extends PlanOptions {
  /** `GITHUB_OUTPUT` comes from here (tests pass their own). */
  env: NodeJS.ProcessEnv;
}

/** Prints the plan as JSON on stdout, and appends it to `$GITHUB_OUTPUT` when that is set. */
async function planCommand(opts: PlanCommandOptions): Promise<void> {
  const out = await planOutputs(opts);
  opts.logger.info(readableJson(out));
  const target = opts.env.GITHUB_OUTPUT;
  if (target !== undefined && target !== "") await appendFile(target, githubOutput(out));
}

/** `pte-farm plan …`: argv in, exit code out. */
export async function planCli(argv: string[], logger: Logger): Promise<ExitCode> {
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
    logger.info(PLAN_USAGE);
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
