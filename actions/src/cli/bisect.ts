/**
 * `pte-farm bisect`: the package and release that first break a cell between a good and a bad
 * toolchain (bisect/run.ts). Bad input is exit 2 before any environment is built; the answer is
 * exit 0 (found), 1 (several packages only break it together) or 3 (inconclusive: infrastructure).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { selectCells } from "../../../matrix/cells.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { cellProbe, commandProbe } from "../bisect/probes.ts";
import { bisect } from "../bisect/run.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultPython, displayPath, REPO_ROOT } from "../core/paths.ts";
import { type Lock, readLock } from "../toolchain/lock.ts";
import { resolveToolchain } from "../toolchain/resolve.ts";
import { usageErrors } from "./args.ts";

export const BISECT_USAGE = `pte-farm bisect (--cell ID | --run COMMAND) --good TOOLCHAIN|LOCK --bad TOOLCHAIN|LOCK [options]
  --cell ID         the cell to run at each step (through the same path as pte-farm run)
  --run COMMAND     or a command run in each step's environment, as git bisect run: exit 0 good,
                    125 untestable (skip), 3 infrastructure (retry), anything else bad
  --good, --bad     a toolchain of the matrix (resolved now; a channel reads the package index)
                    or a lock.json (pte-farm toolchain resolve)
  --out DIR         where steps, locks, bisect.json and bisect.md go (default out/bisect/<UTC time>);
                    the same DIR again resumes an interrupted bisection from its kept steps
  --metric NAME     bisect a speed regression of this metric (e.g. decode_tokens_per_sec) instead
                    of a failure: both ends pass, and each step's samples are compared with the
                    good lock's, measured again beside it, by the farm's statistics and the
                    thresholds of matrix/compare.yml (regression: bad; unchanged or better: good;
                    inconclusive: skip). A --run command writes its samples to $PTE_FARM_METRICS
  --attempts N      attempts of a step that fails for infrastructure reasons (default 2)
  --max-infra N     infrastructure-failed steps that stop it as inconclusive (default 3)
  --reps N          measured repetitions per cell step (default 3)
  --matrix FILE     farm definition (default: matrix/farm.yml)
It moves one package at a time from the good lock to the bad (the rest held at good; companions a
requirement forces move with it, and the report says so), then binary-searches that package's
releases from the package index.`;

function positive(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigurationError(`${flag} ${v}: expected an integer >= 1`);
  return n;
}

export async function bisectCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("bisect", () =>
    parseArgs({
      args: argv,
      options: {
        cell: { type: "string" },
        run: { type: "string" },
        good: { type: "string" },
        bad: { type: "string" },
        out: { type: "string" },
        attempts: { type: "string" },
        metric: { type: "string" },
        "max-infra": { type: "string" },
        reps: { type: "string" },
        matrix: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(BISECT_USAGE);
    return EXIT.ok;
  }
  if ((values.cell === undefined) === (values.run === undefined)) {
    throw new ConfigurationError(`pass one of --cell ID or --run COMMAND\n\n${BISECT_USAGE}`);
  }
  if (values.good === undefined || values.bad === undefined) {
    throw new ConfigurationError(
      `pass --good and --bad (a toolchain name or a lock.json)\n\n${BISECT_USAGE}`,
    );
  }
  const matrix = values.matrix ?? DEFAULT_MATRIX;
  const python = defaultPython();
  const attempts = positive("--attempts", values.attempts, 2);
  const maxInfra = positive("--max-infra", values["max-infra"], 3);
  const reps = positive("--reps", values.reps, 3);
  const farm = await loadFarm(matrix);
  if (values.cell !== undefined) {
    const picked = selectCells(farm, values.cell);
    if (picked.cells.length !== 1 || picked.cells[0]?.id !== values.cell) {
      throw new ConfigurationError(
        `--cell ${values.cell}: expected one exact cell id of ${displayPath(matrix)} (model/recipe/backend/device@toolchain)`,
      );
    }
  }
  const out = path.resolve(
    values.out ??
      path.join(
        REPO_ROOT,
        "out",
        "bisect",
        new Date()
          .toISOString()
          .replace(/\.\d+Z$/, "Z")
          .replaceAll(":", "-"),
      ),
  );
  const logFile = path.join(out, "pip.log");
  const lockOf = async (flag: string, arg: string): Promise<Lock> => {
    if (arg.endsWith(".json")) return readLock(arg);
    const tc = farm.toolchains.get(arg);
    if (tc === undefined) {
      throw new ConfigurationError(
        `${flag} ${arg}: not a toolchain of ${displayPath(matrix)} (known: ${[...farm.toolchains.keys()].join(", ")}) nor a lock.json`,
      );
    }
    // A resumed bisection keeps the endpoints it resolved first: a channel may have moved since.
    const kept = path.join(out, `${flag.slice(2)}.lock.json`);
    if (existsSync(kept)) return readLock(kept);
    const lock = await resolveToolchain(tc, { python, logger, logFile });
    await mkdir(out, { recursive: true });
    await writeFile(kept, `${JSON.stringify(lock, null, 2)}\n`);
    return lock;
  };
  const good = await lockOf("--good", values.good);
  const bad = await lockOf("--bad", values.bad);
  if (good.id === bad.id)
    throw new ConfigurationError(`--good and --bad are the same lock (${good.id}); nothing to bisect`);
  const previous = await readFile(path.join(out, "bisect.json"), "utf8").catch(() => null);
  if (previous !== null)
    logger.info(`bisect: ${displayPath(out)} holds an earlier bisection; its kept steps are reused`);

  const probe =
    values.cell !== undefined
      ? cellProbe({ cell: values.cell, matrix, python, reps, logger })
      : commandProbe(values.run as string);
  const record = await bisect({
    good,
    bad,
    probe,
    python,
    out,
    attempts,
    maxInfra,
    metric: values.metric ?? null,
    reproduce: (lockFile) =>
      values.cell !== undefined
        ? `node actions/src/cli/pte-farm.ts run --cells '${values.cell}' --lock ${displayPath(lockFile)}`
        : `PATH="$(dirname "$(node actions/src/cli/pte-farm.ts toolchain env ${displayPath(lockFile)} | tail -1)"):$PATH" sh -c '${(values.run as string).replaceAll("'", "'\\''")}'`,
    logger,
  });
  logger.info(`\n${await readFile(path.join(out, "bisect.md"), "utf8")}`);
  logger.info(`bisect record: ${displayPath(path.join(out, "bisect.json"))}`);
  return record.verdict === "found" ? EXIT.ok : record.verdict === "interaction" ? EXIT.failed : EXIT.infra;
}
