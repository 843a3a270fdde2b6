/** Synthetic release manifests for the tests of what reads one (schema, release notes). */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseJson } from "../../actions/src/core/validate.ts";
import { releaseCellEntry } from "../../actions/src/release/cell-entry.ts";
import { manifest as manifestSchema } from "../../actions/src/schemas/manifest.ts";
import {
  cellSlug,
  type ReleaseCell,
  type ReleaseManifest,
} from "../../actions/src/schemas/release-manifest.ts";
import type { GateResult } from "../../actions/src/schemas/run-record.ts";
import { sampleRecord } from "./record.ts";

const MANIFEST_FILE = path.join(import.meta.dirname, "..", "fixtures", "cnn", "small-cnn.tosa.manifest.json");
const text = readFileSync(MANIFEST_FILE, "utf8");
/** A real lower-stage manifest (small-cnn on TOSA). */
export const builtManifest = parseJson(manifestSchema, text, MANIFEST_FILE);
const rawModel = JSON.parse(text).model;

/** One cell's entry for `device`, from a sample run record and the real build manifest. */
export function releaseEntry(device: string, bytes = 1000, over: Partial<ReleaseCell> = {}): ReleaseCell {
  const record = sampleRecord();
  const cell = {
    ...record.cell,
    device,
    id: `${record.cell.model}/${record.cell.recipe}/${record.cell.backend}/${device}@${record.cell.toolchain}`,
  };
  const entry = releaseCellEntry(
    { ...record, cell, gate: record.gate as GateResult, git_sha: record.git_sha as string },
    builtManifest,
    rawModel,
    { name: `${cellSlug(cell)}.pte`, sha256: "c".repeat(64), bytes, parts: null },
  );
  return { ...entry, ...over };
}

export function releaseOf(cells: ReleaseCell[], over: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    schema: "pte-farm/release@1",
    tag: "v1.0.0",
    git_sha: "0123456789abcdef0123456789abcdef01234567",
    created_at: "2026-11-23T10:00:00Z",
    repository: "octo/farm",
    workflow_run: { id: 7, url: "https://github.com/octo/farm/actions/runs/7" },
    part_limit_bytes: 2 ** 31,
    cells,
    ...over,
  };
}
