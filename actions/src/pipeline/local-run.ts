/**
 * `pte-farm run`: selected cells end to end on this machine, with progress, one run record per
 * cell, and `summary.md`. Returns the exit code; throws ConfigurationError / InfrastructureError
 * for problems before any cell runs (the CLI's `main` turns those into exit codes).
 */

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { makeCell, selectCells, thisMachine } from "../../../matrix/cells.ts";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { renderFailureNotes, renderSummary, renderTable } from "../../../reports/summary.ts";
import { ConfigurationError, type ExitCode, InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath, KNOWN_ISSUES_FILE, REPO_ROOT, STAGES_DIR } from "../core/paths.ts";
import type { DriverSettings } from "../drivers/driver.ts";
import { checkEmulatedDevices } from "../drivers/emulation.ts";
import { openStore } from "../history/open.ts";
import { exitCodeFor } from "../records/build.ts";
import { gitSha, hostDeviceInfo } from "../records/host-info.ts";
import { parseCellId } from "../schemas/cell-id.ts";
import type { Role, RunRecord } from "../schemas/run-record.ts";
import type { CellRef, StageName } from "../schemas/stage.ts";
import type { Lock } from "../toolchain/lock.ts";
import { provideToolchains, type ToolchainPython } from "../toolchain/provide.ts";
import { basePteFor } from "./base-pte.ts";
import { BuildCache, toolchainFingerprints } from "./cache.ts";
import { cacheBudget, pruneCache, pruneSummary } from "./cache-prune.ts";
import { type BasePte, cellDir, runCell } from "./cell.ts";
import { localDriver, RUNNER_EXECUTORCH_ENV } from "./execute.ts";
import { checkModelFolders } from "./model-folders.ts";
import { type RunnableCell, runnableCell } from "./runnable-cell.ts";
import type { StageCommand } from "./stage-process.ts";
import { type FailureNote, StepRunner } from "./step-runner.ts";

/** A cell whose toolchain does not resolve or load: infrastructure-class, about upstream, never a model failure. */
function incompatibleNote(cell: RunnableCell, message: string, evidence: string): FailureNote {
  return {
    outcome: "infra-failure",
    message,
    known_issue: null,
    triage: `toolchain incompatible (an upstream problem, not this cell's): ${evidence}`,
    reproduce: `node actions/src/cli/pte-farm.ts run --cells '${cell.id}'`,
  };
}

export interface RunOptions {
  matrix: string;
  /** Comma-separated cell-id globs; undefined runs the matrix's `run.cells` set on this machine's device. */
  cells?: string;
  /** Output folder; undefined means `out/runs/<UTC time>`, with `out/latest` pointing at it. */
  out?: string;
  reps: number;
  warmup: number;
  cache: boolean;
  cacheDir: string;
  timeoutS: number;
  role: Role;
  python: string;
  /** Test and debug knobs passed as `spec.options` per stage; no matrix sets them. */
  stageOptions?: Partial<Record<StageName, Record<string, unknown>>>;
  /** An earlier run's output: its builds give each cell's base `.pte`, measured interleaved (ABBA) with the head. */
  baseOut?: string;
  /** A history store (`dir:PATH` or `git:REPO[#branch]`) the run's records are appended to. */
  history?: string;
  /** Where the known-issue catalogue lives (tests point at their own). */
  knownIssues?: string;
  /** Run the cells an `exclude` rule keeps out too (the canaries). */
  runExcluded?: boolean;
  /** Locks to use instead of resolving channels now (`--lock`, a plan's), by toolchain name. */
  locks?: ReadonlyMap<string, Lock>;
  logger: Logger;
}

export interface RunOutcome {
  exitCode: ExitCode;
  outDir: string;
  records: RunRecord[];
}

function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replaceAll(":", "-");
}

/** A new or empty output folder; a non-empty one would mix two runs' records. */
async function prepareOutDir(out: string | undefined): Promise<{ dir: string; isDefault: boolean }> {
  if (out !== undefined) {
    const dir = path.resolve(out);
    const entries = await readdir(dir).catch(() => null);
    if (entries !== null && entries.length > 0) {
      throw new ConfigurationError(`--out ${out}: the folder is not empty; pass a new or empty folder`);
    }
    await mkdir(dir, { recursive: true });
    return { dir, isDefault: false };
  }
  const base = path.join(REPO_ROOT, "out", "runs", stamp());
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  await mkdir(dir, { recursive: true });
  return { dir, isDefault: true };
}

/** Points `out/latest` at the newest default run (replacing the link atomically). */
async function linkLatest(dir: string): Promise<void> {
  const latest = path.join(REPO_ROOT, "out", "latest");
  const tmp = `${latest}.${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(path.relative(path.dirname(latest), dir), tmp, "dir");
  await rename(tmp, latest);
}

export async function runCommand(opts: RunOptions): Promise<RunOutcome> {
  const { logger } = opts;
  const farm = await loadFarm(opts.matrix);
  const picked = selectCells(farm, opts.cells);
  // Canaries are excluded from every cell set (they fail on purpose) but run when asked for.
  const selected = opts.runExcluded
    ? {
        cells: [
          ...picked.cells,
          ...picked.skipped.map((s) => makeCell(farm, parseCellId(s.cell) as CellRef)),
        ],
        skipped: [],
      }
    : picked;
  // Refuse every cell we cannot run before the first one starts, not halfway through a long run.
  const cells: RunnableCell[] = selected.cells.map((c) => runnableCell(c));
  const knownIssues = await loadKnownIssues(opts.knownIssues ?? KNOWN_ISSUES_FILE);
  if (!existsSync(opts.python)) {
    throw new InfrastructureError(
      `the toolchain's python ${opts.python} does not exist; run \`make setup\` or set PTE_FARM_PYTHON`,
    );
  }
  // The model folders load (config, weights, tokenizer, prompts) before any stage starts: exit 2 here.
  await checkModelFolders(
    cells.map((c) => c.model),
    opts.python,
  );
  const { dir: outDir, isDefault } = await prepareOutDir(opts.out);
  const toolchains = await provideToolchains(
    cells.map((c) => c.toolchain),
    {
      python: opts.python,
      logger,
      logDir: outDir,
      ...(opts.locks === undefined ? {} : { locks: opts.locks }),
    },
  );
  const session = `${stamp()}-${randomBytes(3).toString("hex")}`;
  const sha = await gitSha(REPO_ROOT);

  logger.info(
    `pte-farm run: ${cells.length} cell(s), reps ${opts.reps}, warm-up ${opts.warmup}, ` +
      `cache ${opts.cache ? displayPath(opts.cacheDir) : "off"}, output ${displayPath(outDir)}`,
  );
  for (const s of selected.skipped) {
    logger.info(
      `SKIP  ${s.cell}: skipped: ${s.reason}${s.known_issue === null ? "" : ` [${s.known_issue}]`}`,
    );
  }
  // A Pi 5 cell reproduced on a laptop exercises the same build and gate, but its timings are the laptop's.
  const here = thisMachine();
  checkEmulatedDevices(cells);
  for (const d of new Set(cells.map((c) => c.device))) {
    if (d.emulation !== null) {
      logger.warn(
        `device ${d.name} is emulated (${d.arch} ${d.emulation.qemuCpu} under QEMU user mode): its tokens and gate ` +
          "count; its timings are QEMU's, never the board's",
      );
    } else if (d.os !== here.os || d.arch !== here.arch) {
      logger.warn(
        `device ${d.name} is ${d.os} ${d.arch} but this machine is ${here.os} ${here.arch}: its cells run here, ` +
          "so their tokens and gate are meaningful and their timings are this machine's",
      );
    }
  }
  const cache = opts.cache ? new BuildCache(opts.cacheDir) : null;
  const budget = cacheBudget();
  const runStart = Date.now();
  await cache?.sweepTemp();
  // One step runner per toolchain: each runs the stages in its own environment (builds never cross).
  const runners = new Map<string, { steps: StepRunner; python: string; tc: ToolchainPython }>();
  for (const [name, tc] of toolchains) {
    const python = tc.kind === "ready" ? tc.python : opts.python;
    const command: StageCommand = { python, package: "pte_stages", pythonPath: [STAGES_DIR] };
    const mine = cells.filter((c) => c.toolchain.name === name);
    const steps = new StepRunner({
      outDir,
      command,
      cache,
      fingerprints: opts.cache && tc.kind === "ready" ? await toolchainFingerprints(mine, python) : null,
      timeoutMs: opts.timeoutS * 1000,
      logger,
      knownIssues,
    });
    runners.set(name, { steps, python, tc });
  }

  // Resolve every base before the first cell runs: a wrong --base-out fails in a second, not an hour in.
  const bases = new Map<string, BasePte>();
  if (opts.baseOut !== undefined) {
    for (const cell of cells) {
      const driver = localDriver(cell);
      if (!driver.interleaves) {
        throw new ConfigurationError(
          `--base-out: cell ${cell.id} runs here with the ${driver.name} driver, which cannot measure a base ` +
            ".pte interleaved with the head's; leave out --base-out, or run the cell on a machine whose driver is python-runtime",
        );
      }
      bases.set(cell.id, await basePteFor(opts.baseOut, cell));
    }
  }
  const store = opts.history === undefined ? null : openStore(opts.history);
  // A native driver on this machine finds its programs as a provisioned runner does (their env vars).
  const localSettings: DriverSettings = {
    runner: "",
    tokenizer: "",
    fvp: "",
    pteAddress: "",
    runnerExecutorch: process.env[RUNNER_EXECUTORCH_ENV] || null,
  };

  const records: RunRecord[] = [];
  for (const cell of cells) {
    const device = await hostDeviceInfo(cell.device);
    const { steps, python, tc } = runners.get(cell.toolchain.name) as NonNullable<
      ReturnType<typeof runners.get>
    >;
    const ctx = {
      farm,
      steps,
      driver: localDriver(cell),
      settings: localSettings,
      python,
      timeoutS: opts.timeoutS,
      outDir,
      session,
      role: opts.role,
      gitSha: sha,
      device,
      warmup: opts.warmup,
      reps: opts.reps,
      stageOptions: opts.stageOptions ?? {},
      logger,
      ...(tc.kind === "incompatible"
        ? { toolchainFailure: incompatibleNote(cell, tc.message, tc.evidence) }
        : {}),
    };
    const base = bases.get(cell.id);
    const cellRecords = await runCell(ctx, cell, base);
    const dir = cellDir(outDir, cell);
    await mkdir(dir, { recursive: true });
    for (const record of cellRecords) {
      if (tc.lock !== null) record.toolchain.lock = tc.lock.id;
      // The head (or only) record is run.json, as before; an interleaved base is run.base.json beside it.
      const name = record.role === "base" && base !== undefined ? "run.base.json" : "run.json";
      await writeFile(path.join(dir, name), `${JSON.stringify(record, null, 2)}\n`);
      const tag = base === undefined ? "" : ` (${record.role})`;
      logger.info(`${record.status === "pass" ? "PASS" : record.status.toUpperCase()}  ${cell.id}${tag}`);
      records.push(record);
    }
  }
  if (store !== null) {
    const written = await store.append(records);
    logger.info(`history: appended ${written.length} record(s) to ${store.describe()}`);
  }

  await writeFile(
    path.join(outDir, "summary.md"),
    renderSummary(records, { session, gitSha: sha, skipped: selected.skipped }),
  );
  if (isDefault) await linkLatest(outDir);
  if (cache !== null) {
    // This run's entries stay (its output links to them); older ones go beyond the budget.
    const note = pruneSummary(await pruneCache(cache.root, budget, runStart), budget);
    if (note !== null) logger.info(note);
  }
  const notes = renderFailureNotes(records);
  logger.info(`\n${renderTable(records)}${notes === "" ? "" : `\n\n${notes}`}\n`);
  logger.info(`run records and logs: ${displayPath(outDir)} (summary.md, cells/*/run.json, builds/)`);
  return { exitCode: exitCodeFor(records), outDir, records };
}
