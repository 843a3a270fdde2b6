/**
 * Prepares a release: from the artefacts of the release workflow's own run, the exact set of
 * files to upload, or one error naming every cell that may not be published.
 *
 * A cell is released only when its device job measured the build's `.pte` and passed: exactly
 * one run record with role `release`, status `pass`, a passing gate, of the release's commit,
 * whose executed `.pte` is the build's. The file shipped is the build's model.pte, and only when
 * its bytes hash to what its manifest says. Every cell is judged before anything is decided, so
 * a release manager sees all the reasons at once, not one per re-run.
 *
 * The staging folder appears whole or not at all: files are written into a temporary sibling that
 * is renamed into place last, so an upload step never sees half a release.
 */

import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { renderReleaseNotes } from "../../../reports/release-notes.ts";
import { writing } from "../core/disk.ts";
import { ConfigurationError } from "../core/errors.ts";
import { sha256File, sha256Text } from "../core/hashing.ts";
import type { Logger } from "../core/logger.ts";
import { parse } from "../core/validate.ts";
import { describeNumerics } from "../gate/numerics.ts";
import { describeDivergence } from "../gate/policy.ts";
import { median } from "../records/samples.ts";
import { parseCellId } from "../schemas/cell-id.ts";
import {
  cellSlug,
  RELEASE_SCHEMA,
  type ReleaseCell,
  type ReleaseManifest,
  releaseManifest,
} from "../schemas/release-manifest.ts";
import type { GateResult, RunRecord } from "../schemas/run-record.ts";
import { type FoundBuild, type FoundRecord, findBuild, findRecords } from "./artifacts.ts";
import { releaseCellEntry } from "./cell-entry.ts";
import { type BlockingCell, ReleaseBlockedError } from "./errors.ts";
import { MANIFEST_ASSET, NOTES_FILE, SUMS_ASSET } from "./names.ts";
import { DEFAULT_PART_LIMIT, type SplitFile, splitFile } from "./parts.ts";
import { formatSums } from "./sums.ts";

/** A cell of the release plan: the plan's device entry's `cell` and `build`. */
export interface PlannedCell {
  cell: string;
  build: string;
}

export interface PrepareOptions {
  /** The folder the release workflow downloaded its artefacts into (see artifacts.ts). */
  artifacts: string;
  cells: readonly PlannedCell[];
  tag: string;
  /** The commit being released; every record must be of it. */
  gitSha: string;
  /** `owner/name`. */
  repository: string;
  workflowRun: { id: number; url: string } | null;
  /** The staging folder to create; it must not exist yet. */
  out: string;
  partLimit?: number;
  /** ISO time stamped on the manifest (default: now). */
  createdAt?: string;
  logger: Logger;
}

export interface PreparedRelease {
  dir: string;
  /** Every file in `dir` to upload as an asset, sorted (the release notes are not one). */
  assets: string[];
  /** `dir/release-notes.md`: the release body. */
  notes: string;
  manifest: ReleaseManifest;
}

type Releasable = RunRecord & { gate: GateResult; git_sha: string };

/** Why `record` may not be released, or null. */
function recordProblem(record: RunRecord, gitSha: string): string | null {
  const gate = record.gate;
  if (gate?.verdict === "fail") {
    const why =
      gate.first_divergence !== null
        ? describeDivergence(gate.first_divergence)
        : gate.outputs !== undefined
          ? `INT8 outputs differ by ${gate.outputs.max_abs_diff_q} quanta (bound ${gate.outputs.bound_q})`
          : gate.numerics?.verdict === "fail"
            ? describeNumerics(gate.numerics)
            : "verdict fail";
    return `gate failed: ${why}`;
  }
  if (record.status !== "pass") {
    const f = record.failure;
    const kind = record.status === "infra-error" || record.status === "timeout" ? " (infrastructure)" : "";
    return f === null
      ? `status ${record.status}${kind}`
      : `status ${record.status}${kind}${f.stage === undefined ? "" : ` at stage ${f.stage}`}: ${f.message}`;
  }
  if (gate === null) return "the record has no gate verdict (a release needs a passing gate)";
  if (record.git_sha !== gitSha)
    return `measured commit ${record.git_sha ?? "(unknown)"}, not the release's ${gitSha}`;
  return null;
}

/** Whether the device ran the build's `.pte`: by its sha256 when the record has it, else by size. */
function pteProblem(record: RunRecord, built: FoundBuild): string | null {
  const m = built.manifest;
  if (m === null) return null;
  if (record.pte !== undefined) {
    return record.pte.sha256 === m.pte.sha256
      ? null
      : `the device measured a different .pte (sha256 ${record.pte.sha256}) than the build's (${m.pte.sha256})`;
  }
  const bytes = median(record.metrics.pte_bytes?.samples ?? []);
  if (bytes === null)
    return "the record does not say which .pte the device ran (no pte field, no pte_bytes metric)";
  return bytes === m.pte.bytes
    ? null
    : `the device measured a different .pte (${bytes} bytes) than the build's (${m.pte.bytes} bytes)`;
}

function buildProblem(built: FoundBuild, cell: string): string | null {
  if (built.problem !== null) return built.problem;
  const m = built.manifest;
  if (m === null) return null;
  if (built.pte === null) return `${built.where}/model.pte is missing`;
  const ref = parseCellId(cell);
  for (const key of ["model", "recipe", "backend", "toolchain"] as const) {
    if (ref !== null && m.cell[key] !== undefined && m.cell[key] !== ref[key]) {
      return `${built.where}/manifest.json is a build of ${key} ${m.cell[key]}, not ${ref[key]}`;
    }
  }
  return null;
}

function checkInputs(o: PrepareOptions): void {
  if (o.cells.length === 0)
    throw new ConfigurationError("a release needs at least one cell; the plan has none");
  const seen = new Set<string>();
  for (const c of o.cells) {
    if (parseCellId(c.cell) === null) {
      throw new ConfigurationError(
        `release cell ${JSON.stringify(c.cell)} is not a cell id model/recipe/backend/device@toolchain`,
      );
    }
    if (!/^[A-Za-z0-9._-]+$/.test(c.build)) {
      throw new ConfigurationError(
        `release cell ${c.cell}: build ${JSON.stringify(c.build)} is not a plan build id`,
      );
    }
    if (seen.has(c.cell)) throw new ConfigurationError(`release cell ${c.cell} is planned twice`);
    seen.add(c.cell);
  }
  if (!/^[0-9a-f]{40}$/.test(o.gitSha))
    throw new ConfigurationError(`git sha ${JSON.stringify(o.gitSha)} is not 40 hex`);
}

/**
 * Writes the staging folder `out` for a release, or throws {@link ReleaseBlockedError} listing
 * every cell that may not be released (and writes nothing).
 */
export async function prepareRelease(o: PrepareOptions): Promise<PreparedRelease> {
  checkInputs(o);
  const partLimit = o.partLimit ?? DEFAULT_PART_LIMIT;
  if (await stat(o.out).catch(() => null))
    throw new ConfigurationError(`staging folder ${o.out} already exists`);
  const { records, bad } = await findRecords(o.artifacts);
  // A file that cannot be read may have been a cell's record: nothing is released past it.
  const blocked: BlockingCell[] = bad.map((b) => ({
    cell: b.file,
    reason: b.kind === "record" ? `invalid run record: ${b.reason}` : `unreadable JSON file: ${b.reason}`,
  }));
  const builds = new Map<string, FoundBuild>();
  const ready: { planned: PlannedCell; record: Releasable; built: FoundBuild }[] = [];

  for (const planned of o.cells) {
    let built = builds.get(planned.build);
    if (built === undefined) {
      built = await findBuild(o.artifacts, planned.build);
      builds.set(planned.build, built);
    }
    const mine: FoundRecord[] = records.filter(
      (r) => r.record.cell.id === planned.cell && r.record.role === "release",
    );
    const reasons: string[] = [];
    const buildWhy = buildProblem(built, planned.cell);
    if (buildWhy !== null) reasons.push(buildWhy);
    if (mine.length === 0) {
      reasons.push("no run record with role release (infrastructure: the device job did not report)");
    } else if (mine.length > 1) {
      reasons.push(
        `${mine.length} release records (${mine.map((r) => r.file).join(", ")}); expected exactly one`,
      );
    } else {
      const record = (mine[0] as FoundRecord).record;
      const why = recordProblem(record, o.gitSha) ?? pteProblem(record, built);
      if (why !== null) reasons.push(why);
      else if (reasons.length === 0) ready.push({ planned, record: record as Releasable, built });
    }
    if (reasons.length > 0) blocked.push({ cell: planned.cell, reason: reasons.join("; ") });
  }

  const tmp = path.join(
    path.dirname(o.out),
    `.${path.basename(o.out)}.tmp-${randomBytes(4).toString("hex")}`,
  );
  // What the staging folder holds: the .pte files (split or whole), and a few small files.
  const needed = ready.reduce((n, r) => n + (r.built.manifest?.pte.bytes ?? 0), 64 * 1024);
  try {
    const entries: ReleaseCell[] = [];
    if (blocked.length === 0) {
      await mkdir(path.dirname(o.out), { recursive: true });
      await mkdir(tmp);
    }
    for (const { planned, record, built } of ready) {
      const m = built.manifest;
      const pte = built.pte;
      if (m === null || pte === null) throw new Error("bug: a ready cell without its build");
      const name = `${cellSlug(record.cell)}.pte`;
      // A blocked release writes nothing, but still checks every file so all problems are listed.
      const file: SplitFile | { sha256: string; bytes: number } =
        blocked.length === 0
          ? await splitFile(pte, tmp, name, partLimit)
          : { sha256: await sha256File(pte), bytes: (await stat(pte)).size };
      if (file.sha256 !== m.pte.sha256 || file.bytes !== m.pte.bytes) {
        blocked.push({
          cell: planned.cell,
          reason: `${built.where}/model.pte is not the file its manifest describes (sha256 ${file.sha256}, ${file.bytes} bytes; the manifest says ${m.pte.sha256}, ${m.pte.bytes} bytes)`,
        });
        continue;
      }
      if ("name" in file) entries.push(releaseCellEntry(record, m, built.rawModel, file));
      o.logger.info(`release: ${planned.cell} → ${name} (${m.pte.bytes} bytes)`);
    }
    if (blocked.length > 0) throw new ReleaseBlockedError(blocked);

    const manifest = parse(
      releaseManifest,
      {
        schema: RELEASE_SCHEMA,
        tag: o.tag,
        git_sha: o.gitSha,
        created_at: o.createdAt ?? new Date().toISOString(),
        repository: o.repository,
        workflow_run: o.workflowRun,
        part_limit_bytes: partLimit,
        cells: entries,
      },
      "release manifest.json",
    );
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFile(path.join(tmp, MANIFEST_ASSET), manifestText);
    const sums = [
      { name: MANIFEST_ASSET, sha256: sha256Text(manifestText) },
      ...manifest.cells.flatMap((c) =>
        c.file.parts === null ? [{ name: c.file.name, sha256: c.file.sha256 }] : c.file.parts,
      ),
    ];
    await writeFile(path.join(tmp, SUMS_ASSET), formatSums(sums));
    await writeFile(path.join(tmp, NOTES_FILE), renderReleaseNotes(manifest));
    await rename(tmp, o.out);
    return {
      dir: o.out,
      assets: [...sums.map((s) => s.name), SUMS_ASSET].sort(),
      notes: path.join(o.out, NOTES_FILE),
      manifest,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // A full disk is the runner's problem: infrastructure, naming the folder and the space needed.
    return writing(path.dirname(o.out), needed, () => Promise.reject(err));
  }
}
