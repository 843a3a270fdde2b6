/**
 * `pte-farm watchdog`: the no-capacity watchdog of farm-pr and farm-nightly (health/watchdog.ts).
 * Watches the run's device jobs through the API until each has started, waits for a person, or
 * has been queued past its device's `max_queue_minutes`; writes an `infra-error` record for each
 * of the last, in farm-device's artefact layout, and says which in `$GITHUB_OUTPUT` (`stuck`,
 * `cells`) so the workflow cancels the run's wait and still reports.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { Cell } from "../../../matrix/cells.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { githubOutput } from "../../../matrix/shard.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX } from "../core/paths.ts";
import { createGitHub } from "../github/client.ts";
import { listRunJobs } from "../github/jobs.ts";
import {
  type CellWatch,
  nextLook,
  noRunnerRecord,
  type WatchedCell,
  watchCells,
} from "../health/watchdog.ts";
import { matrixCellById } from "../pipeline/stage-job.ts";
import { defaultSession } from "../records/session.ts";
import { ROLES, type Role } from "../schemas/run-record.ts";
import { usageErrors } from "./args.ts";

export const WATCHDOG_USAGE = `pte-farm watchdog --devices FILE --out DIR --role ROLE [--matrix FILE] [--poll-s N]
  in a workflow run: watch its device jobs (the plan's devices output, as JSON, in FILE) until each
  has started, waits for an approval, or has been queued longer than its device's max_queue_minutes
  (matrix); for those write an infra-error record "no runner online for <labels>" to
  DIR/<build>-<device>/run.json and append stuck=true and cells=[...] to $GITHUB_OUTPUT.
  Reads GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_API_URL and GITHUB_TOKEN
  (actions: read). --poll-s: seconds between looks (default 30)`;

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "")
    throw new ConfigurationError(`${name} is not set: the watchdog runs in a workflow run`);
  return v;
}

function plannedCells(
  json: string,
  file: string,
): { cell: string; build: string; device: string; runs_on: string[] }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new ConfigurationError(`--devices ${file}: not JSON (${(err as Error).message})`);
  }
  const include = (parsed as { include?: unknown })?.include;
  if (!Array.isArray(include))
    throw new ConfigurationError(`--devices ${file}: expected the plan's devices output, {"include": [...]}`);
  return include.map((e, i) => {
    const entry = e as Record<string, unknown>;
    for (const k of ["cell", "build", "device"])
      if (typeof entry[k] !== "string")
        throw new ConfigurationError(`--devices ${file}: include[${i}].${k} is not a string`);
    return {
      cell: String(entry.cell),
      build: String(entry.build),
      device: String(entry.device),
      runs_on: Array.isArray(entry.runs_on) ? entry.runs_on.map(String) : [],
    };
  });
}

export async function watchdogCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors(WATCHDOG_USAGE, () =>
    parseArgs({
      args: argv,
      options: {
        devices: { type: "string" },
        out: { type: "string" },
        role: { type: "string" },
        matrix: { type: "string" },
        "poll-s": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(WATCHDOG_USAGE);
    return EXIT.ok;
  }
  const { devices, out, role } = values;
  if (devices === undefined || out === undefined)
    throw new ConfigurationError("--devices and --out are required");
  if (role === undefined || !(ROLES as readonly string[]).includes(role))
    throw new ConfigurationError(`--role ${role ?? "(missing)"}: expected one of ${ROLES.join(", ")}`);
  const pollS = Number(values["poll-s"] ?? "30");
  if (!(pollS > 0))
    throw new ConfigurationError(`--poll-s ${values["poll-s"]}: expected a positive number of seconds`);

  const farm = await loadFarm(values.matrix ?? DEFAULT_MATRIX);
  const planned = plannedCells(await readFile(devices, "utf8"), devices);
  const matrixCells = new Map(planned.map((c) => [c.cell, matrixCellById(farm, c.cell, "--devices: cell")]));
  const cells: WatchedCell[] = planned.map((c) => ({
    ...c,
    maxQueueMinutes: (matrixCells.get(c.cell) as Cell).device.maxQueueMinutes,
  }));
  const [owner, repo, extra] = env("GITHUB_REPOSITORY").split("/");
  if (!owner || !repo || extra !== undefined)
    throw new ConfigurationError(`GITHUB_REPOSITORY ${process.env.GITHUB_REPOSITORY}: expected owner/repo`);
  const runId = Number(env("GITHUB_RUN_ID"));
  const attempt = Number(process.env.GITHUB_RUN_ATTEMPT || "1");
  if (!Number.isSafeInteger(runId) || runId <= 0 || !Number.isSafeInteger(attempt) || attempt <= 0)
    throw new ConfigurationError("GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: expected positive integers");
  const gh = createGitHub({
    token: env("GITHUB_TOKEN"),
    baseUrl: process.env.GITHUB_API_URL || "https://api.github.com",
    logger,
  });

  let watch: CellWatch[];
  for (;;) {
    const jobs = await listRunJobs(gh, { owner, repo, runId, attempt });
    watch = watchCells(cells, jobs, new Date());
    const next = nextLook(watch);
    if (next === null) break;
    const queued = watch.filter((w) => w.state === "queued").map((w) => w.cell.cell);
    logger.info(`queued, waiting for a runner: ${queued.join(", ")}`);
    await sleep(Math.max(1000, Math.min(pollS * 1000, next.getTime() - Date.now())));
  }

  for (const w of watch)
    if (w.state === "unlisted") logger.warn(`no job of this run is named after ${w.cell.cell}: not watched`);
  const now = new Date();
  const stuck = watch.filter((w) => w.state === "no-runner");
  for (const w of stuck) {
    const record = noRunnerRecord({
      cell: matrixCells.get(w.cell.cell) as Cell,
      watch: w,
      now,
      role: role as Role,
      session: defaultSession(process.env),
      gitSha: process.env.GITHUB_SHA || null,
    });
    const dir = path.join(out, `${w.cell.build}-${w.cell.device}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "run.json.tmp"), `${JSON.stringify(record, null, 2)}\n`);
    await rename(path.join(dir, "run.json.tmp"), path.join(dir, "run.json"));
    // A workflow command: the run's page lists it as an error annotation.
    process.stdout.write(
      `::error title=no runner online::${w.cell.cell}: ${record.failure?.message ?? ""}\n`,
    );
  }
  const ok = watch.filter((w) => w.state !== "no-runner").map((w) => `${w.cell.cell}: ${w.state}`);
  logger.info(
    `${stuck.length} of ${cells.length} device job(s) never started${ok.length > 0 ? `; ${ok.join(", ")}` : ""}`,
  );
  const file = process.env.GITHUB_OUTPUT;
  if (file)
    await writeFile(
      file,
      githubOutput({ stuck: stuck.length > 0 ? "true" : "false", cells: stuck.map((w) => w.cell.cell) }),
      { flag: "a" },
    );
  return EXIT.ok;
}
