/**
 * `pte-farm dashboard build`: reads a history store one cell at a time (the store interface's
 * `cells` and `list`, so `dir:`, `git:` and `postgres` histories all work) and writes a static
 * site: the pages and scripts of reports/dashboard/site, uPlot, one overview data file, one data
 * file per cell, the devices, releases and upstream files, and each cell's newest run records.
 *
 * Memory is one cell's records at a time per thread plus a few numbers per record (reports/
 * dashboard/farm-pages.ts); cells are shared between worker threads, one per core (cells.ts). Two states need the whole farm (a device's quarantine, the newest night): cells
 * are classified as they are read, and the few whose state those change are rewritten at the end.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { withFarmState } from "../../../reports/dashboard/cell-state.ts";
import { FarmPages } from "../../../reports/dashboard/farm-pages.ts";
import {
  type CellPage,
  dataFile,
  type Overview,
  type OverviewCell,
} from "../../../reports/dashboard/model.ts";
import { bisectEntries, upstreamPage } from "../../../reports/dashboard/upstream-page.ts";
import { type CompareConfig, loadCompareConfig } from "../compare/config.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, KNOWN_ISSUES_FILE } from "../core/paths.ts";
import { openStoreOrFolder } from "../history/open.ts";
import type { HistoryStore } from "../history/store.ts";
import { type CellsJob, digestCells, inWorker, readable } from "./cells.ts";

/** The site's own files (pages, scripts, styles), copied as they are. */
export const SITE_DIR = fileURLToPath(new URL("../../../reports/dashboard/site/", import.meta.url));
const SITE_FILES = [
  "index.html",
  "cell.html",
  "devices.html",
  "releases.html",
  "upstream.html",
  "style.css",
  "common.js",
  "overview.js",
  "cell.js",
  "farm.js",
  "upstream.js",
];

/** Marks a folder as a build's, which the next build may replace; anything else is never deleted. */
const MARKER = ".pte-farm-dashboard";

/** `--out` emptied for a build: new, empty, or an earlier build (never someone's other folder). */
async function freshOut(dir: string): Promise<string> {
  const out = path.resolve(dir);
  const entries = await readdir(out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw new ConfigurationError(
      `--out ${dir}: cannot read it (${err.code ?? err.message}); choose a new or empty folder`,
    );
  });
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new ConfigurationError(
      `--out ${dir} holds files that are not a dashboard build; choose a new or empty folder (a build replaces only an earlier build)`,
    );
  }
  await rm(out, { recursive: true, force: true });
  return out;
}

export interface DashboardOptions {
  /** A store spec (`dir:`, `git:`, `postgres`) or a bare folder. */
  history: string;
  out: string;
  /** https://github.com/OWNER/REPO, for links to a cell's nightly issues. */
  repoUrl?: string | null;
  /** matrix/compare.yml: each metric's minimum effect for the change points. */
  compareConfig?: string;
  /** matrix/farm.yml: the quarantine rule's count of infrastructure errors, the canaries, the channels. */
  matrix?: string;
  /** matrix/known-issues.yml: the canaries' known issues' titles. */
  knownIssues?: string;
  keepRecords?: number;
  /** Threads reading cells at once (default: the machine's cores; one for a small history). */
  workers?: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface DashboardSummary {
  cells: number;
  records: number;
  out: string;
}

function openHistory(spec: string, env: NodeJS.ProcessEnv): HistoryStore {
  const store = openStoreOrFolder(spec, env);
  const folder = spec.startsWith("dir:") ? spec.slice(4) : /^(git|postgres)/.test(spec) ? null : spec;
  if (folder !== null && !existsSync(folder)) {
    throw new ConfigurationError(
      `--history ${spec}: ${folder} does not exist; point it at a history store (dir:PATH, git:REPO[#branch] or postgres)`,
    );
  }
  return store;
}

async function copySite(out: string): Promise<void> {
  for (const f of SITE_FILES) await copyFile(path.join(SITE_DIR, f), path.join(out, f));
  const require = createRequire(import.meta.url);
  const uplot = path.dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));
  await mkdir(path.join(out, "vendor"), { recursive: true });
  await copyFile(path.join(uplot, "uPlot.iife.min.js"), path.join(out, "vendor", "uPlot.iife.min.js"));
  await copyFile(path.join(uplot, "uPlot.min.css"), path.join(out, "vendor", "uPlot.min.css"));
  await copyFile(path.join(uplot, "..", "LICENSE"), path.join(out, "vendor", "uPlot.LICENSE"));
}

/** Rewrites a cell's data file with its farm-wide state (quarantined, skipped). */
async function patchCell(out: string, cell: OverviewCell): Promise<void> {
  const file = path.join(out, "data", "cells", `${cell.key}.js`);
  const text = await readFile(file, "utf8");
  const page = JSON.parse(text.slice(text.indexOf(",") + 1, text.lastIndexOf(")"))) as CellPage;
  await writeFile(file, dataFile("cell", { ...page, cell }));
}

export async function buildDashboard(opts: DashboardOptions): Promise<DashboardSummary> {
  const env = opts.env ?? process.env;
  const store = openHistory(opts.history, env);
  const config: CompareConfig = await loadCompareConfig(opts.compareConfig);
  const farm = await loadFarm(opts.matrix ?? DEFAULT_MATRIX);
  const cells = await readable(store.describe(), "listing its cells", () => store.cells());
  if (cells.length === 0) {
    throw new ConfigurationError(
      `--history ${store.describe()}: no run records in it; append some (pte-farm history append) or point --history at the farm's store`,
    );
  }
  const bisects = bisectEntries(
    await readable(store.describe(), "bisect records", () => store.listBisects()),
  );
  const titles = new Map(
    (await loadKnownIssues(opts.knownIssues ?? KNOWN_ISSUES_FILE)).map((i) => [i.id, i.title]),
  );
  const out = await freshOut(opts.out);
  await mkdir(path.join(out, "data", "cells"), { recursive: true });
  await copySite(out);
  const ctx = {
    config,
    repoUrl: opts.repoUrl ?? null,
    keepRecords: opts.keepRecords ?? 10,
    canaries: farm.canaries,
    bisects,
  };
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), Math.ceil(cells.length / 50)));
  const shares = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = cells.filter((_, i) => i % workers === w);
      const job: CellsJob = { spec: opts.history, cells: mine, out, ctx, env: { ...env } };
      return workers === 1 ? digestCells(job, opts.logger) : inWorker(job);
    }),
  );
  const pages = new FarmPages();
  const overview: OverviewCell[] = [];
  let records = 0;
  for (const share of shares) {
    pages.merge(share.farm);
    overview.push(...share.overview);
    records += share.records;
  }
  const health = (await readable(store.describe(), "health reports", () => store.listHealth())).map(
    (h) => h.report,
  );
  const devices = pages.devicesPage(health, farm.health.quarantineAfter);
  const latestNight = overview.reduce<string | null>(
    (m, c) => (m === null || c.latest > m ? c.latest : m),
    null,
  );
  const farmState = { quarantined: FarmPages.quarantined(devices), latestNight };
  const finalCells: OverviewCell[] = [];
  for (const c of overview) {
    const final = withFarmState(c, farmState);
    if (final !== c) await patchCell(out, final);
    finalCells.push(final);
  }
  finalCells.sort((a, b) => a.row.localeCompare(b.row) || a.col.localeCompare(b.col));
  const data: Overview = {
    schema: "pte-farm/dashboard-overview@1",
    generated_at: new Date().toISOString(),
    store: store.describe(),
    latest_night: latestNight,
    records,
    cells: finalCells,
  };
  await writeFile(path.join(out, "data", "overview.js"), dataFile("overview", data));
  await writeFile(path.join(out, "data", "devices.js"), dataFile("devices", devices));
  await writeFile(path.join(out, "data", "releases.js"), dataFile("releases", pages.releasesPage()));
  const channels = new Set(
    [...farm.toolchains.values()].filter((t) => t.channel !== null).map((t) => t.name),
  );
  await writeFile(
    path.join(out, "data", "upstream.js"),
    dataFile("upstream", upstreamPage(finalCells, bisects, titles, channels)),
  );
  // GitHub Pages runs Jekyll on an uploaded site unless told not to; nothing here is Jekyll's.
  await writeFile(path.join(out, ".nojekyll"), "");
  await writeFile(
    path.join(out, MARKER),
    "built by pte-farm dashboard build; the next build replaces this folder\n",
  );
  return { cells: finalCells.length, records, out };
}
