/**
 * What a release workflow downloaded from its own run: one folder per GitHub artefact, as
 * actions/download-artifact lays them out without `merge-multiple`:
 *
 *   build-<build>/build/model.pte        farm-build.yml's artefact: the .pte
 *   build-<build>/build/manifest.json    ... and the lower stage's manifest
 *   build-<build>/steps/*.json           (not read here)
 *   <any other folder>/**\/*.json        farm-device.yml's results: run records (run.json, and
 *                                        base.json/compare.json, which are skipped by schema/role)
 *
 * Device results may also be merged into one folder (`merge-multiple`): records are found by
 * their `schema`, wherever they are. The walk never follows a link and reads each JSON file only up
 * to ingest's per-file limit; records go through the same validation as farm-report's intake.
 */
import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import path from "node:path";
import { parse, ValidationError } from "../core/validate.ts";
import { ARTIFACT_LIMITS, parseHostileJson, shownPath } from "../publish/hostile-files.ts";
import { sampleProblem } from "../records/read.ts";
import { type Manifest, manifest as manifestSchema } from "../schemas/manifest.ts";
import { type RunRecord, runRecord } from "../schemas/run-record.ts";

/** How deep records may sit: `release-<key>/<key>/run.json` is depth 3. */
const MAX_DEPTH = 4;
const MAX_ENTRIES = 20_000;

export interface FoundRecord {
  file: string;
  record: RunRecord;
}

export interface BadFile {
  file: string;
  /** `json`: not readable as JSON (it may have been a record); `record`: a run record that is not valid. */
  kind: "json" | "record";
  reason: string;
}

export interface FoundBuild {
  /** The build's folder inside the download, for messages. */
  where: string;
  pte: string | null;
  manifest: Manifest | null;
  /** The manifest's `model` block whole (the schema keeps only what every reader needs). */
  rawModel: unknown;
  /** Why the manifest could not be read, when it could not. */
  problem: string | null;
}

async function readJsonBounded(file: string): Promise<unknown> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error("not a regular file");
    if (info.size > ARTIFACT_LIMITS.maxFileBytes) {
      throw new Error(`${info.size} bytes, over the ${ARTIFACT_LIMITS.maxFileBytes}-byte limit`);
    }
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await handle.readFile());
    return parseHostileJson(text);
  } finally {
    await handle.close();
  }
}

function problem(err: unknown): string {
  if (err instanceof SyntaxError) return `not valid JSON (${err.message})`;
  return (err as Error).message;
}

/** Every run record under `root` outside the build folders, and the JSON files that claim to be one but are not valid. */
export async function findRecords(root: string): Promise<{ records: FoundRecord[]; bad: BadFile[] }> {
  const records: FoundRecord[] = [];
  const bad: BadFile[] = [];
  let entries = 0;
  const visit = async (rel: string, depth: number): Promise<void> => {
    const names = (await readdir(path.join(root, rel))).sort();
    for (const name of names) {
      if (++entries > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} entries under ${root}`);
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const abs = path.join(root, childRel);
      const info = await lstat(abs);
      if (info.isSymbolicLink()) continue;
      if (info.isDirectory()) {
        if (depth === 0 && name.startsWith("build-")) continue;
        if (depth < MAX_DEPTH) await visit(childRel, depth + 1);
        continue;
      }
      if (!info.isFile() || !name.endsWith(".json")) continue;
      let value: unknown;
      try {
        value = await readJsonBounded(abs);
      } catch (err) {
        bad.push({ file: shownPath(childRel), kind: "json", reason: problem(err) });
        continue;
      }
      const schema = (value as { schema?: unknown } | null)?.schema;
      if (schema !== "pte-farm/run@1") continue;
      try {
        const broken = sampleProblem(value);
        if (broken !== null) throw new Error(broken);
        const record = parse(runRecord, value, shownPath(childRel));
        records.push({ file: shownPath(childRel), record });
      } catch (err) {
        bad.push({
          file: shownPath(childRel),
          kind: "record",
          reason: err instanceof ValidationError ? err.message : problem(err),
        });
      }
    }
  };
  await visit("", 0);
  return { records, bad };
}

/** The build artefact `build-<build>` under `root`: its .pte and manifest, or why they are missing. */
export async function findBuild(root: string, build: string): Promise<FoundBuild> {
  const where = `build-${build}/build`;
  const dir = path.join(root, `build-${build}`, "build");
  const pteFile = path.join(dir, "model.pte");
  const pteInfo = await lstat(pteFile).catch(() => null);
  const pte = pteInfo?.isFile() ? pteFile : null;
  try {
    const raw = await readJsonBounded(path.join(dir, "manifest.json"));
    const m = parse(manifestSchema, raw, `${where}/manifest.json`);
    return { where, pte, manifest: m, rawModel: (raw as { model: unknown }).model, problem: null };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    return {
      where,
      pte,
      manifest: null,
      rawModel: null,
      problem: missing
        ? `${where}/manifest.json is missing (the build failed, or its artefact was not downloaded)`
        : `${where}/manifest.json: ${problem(err)}`,
    };
  }
}
