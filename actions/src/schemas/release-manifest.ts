/**
 * A release's `manifest.json` (`pte-farm/release@1`): what each published `.pte` is, exactly, and
 * the evidence it was allowed out — which cell, which bytes (and, for a file over the asset limit,
 * which parts at which offsets), the exact toolchain of the build and of the device that measured
 * it, the gate result, the bench figures with their confidence intervals, and the roofline fraction.
 *
 * `pte-farm fetch` trusts nothing else: it checks this file against SHA256SUMS, then every file
 * and part against this file, so the shape rules below (part names, contiguous offsets, sizes that
 * add up) are checked when it is read, not assumed.
 */
import {
  arr,
  type Check,
  type Infer,
  literal,
  nonEmptyStr,
  nonNegInt,
  nullable,
  num,
  obj,
  open,
  type PathSegment,
  record,
  refine,
  str,
  unknownValue,
  ValidationError,
  withJsonSchema,
} from "../core/validate.ts";
import { cellId } from "./cell-id.ts";
import { gateResult, roofline } from "./run-record.ts";
import { delegation, toolchainVersions } from "./stage.ts";

export const RELEASE_SCHEMA = "pte-farm/release@1";

/** Cell names are asset-name safe by the matrix's own rule, so a slug is a legal asset name. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HEX64 = /^[0-9a-f]{64}$/;
const SHA40 = /^[0-9a-f]{40}$/;

function pattern(re: RegExp, what: string): Check<string> {
  return withJsonSchema(
    (v, p) => {
      if (typeof v === "string" && re.test(v)) return v;
      throw new ValidationError(
        "",
        p,
        `expected ${what}, got ${JSON.stringify(v)?.slice(0, 80) ?? "nothing"}`,
      );
    },
    { type: "string", pattern: re.source },
  );
}

const sha256 = pattern(HEX64, "a sha256 (64 lowercase hex)");
const gitSha = pattern(SHA40, "a commit SHA (40 lowercase hex)");
const cellName = pattern(NAME, "a cell name (letters, digits, '.', '_', '-')");
const positiveInt = refine(nonNegInt, (n) => (n < 1 ? { path: [], message: "must be at least 1" } : null), {
  minimum: 1,
});

/** `model--recipe--backend--device--toolchain`: the file name stem of a cell's asset. */
export function cellSlug(cell: {
  model: string;
  recipe: string;
  backend: string;
  device: string;
  toolchain: string;
}): string {
  return [cell.model, cell.recipe, cell.backend, cell.device, cell.toolchain].join("--");
}

export const releaseCellRef = refine(
  obj({
    id: str,
    model: cellName,
    recipe: cellName,
    backend: cellName,
    device: cellName,
    toolchain: cellName,
  }),
  (c) => (c.id === cellId(c) ? null : { path: ["id"], message: `expected ${cellId(c)} (from the parts)` }),
);

export const filePart = obj({ name: nonEmptyStr, sha256, bytes: positiveInt, offset: nonNegInt });

export const releaseFile = obj({
  name: nonEmptyStr,
  sha256,
  bytes: nonNegInt,
  /** null: uploaded whole as `name`; else the parts, in order, that concatenate to it. */
  parts: nullable(arr(filePart)),
});

const ci = refine(arr(num), (v) =>
  v.length === 2 && (v[0] as number) <= (v[1] as number)
    ? null
    : {
        path: [],
        message: "expected [lo, hi] with lo <= hi",
      },
);

/** One metric's figures: the median of the unflagged samples and its distribution-free 95% interval. */
export const benchFigure = obj({
  unit: str,
  better: literal("higher", "lower"),
  /** Samples the figures use (flagged reps left out). */
  n: nonNegInt,
  median: nullable(num),
  /** null with too few samples for a 95% interval (fewer than 6). */
  ci: nullable(ci),
  confidence: literal(0.95),
});
export type BenchFigure = Infer<typeof benchFigure>;

/** The build manifest's `model` block, kept whole (an LLM's vocab, a CNN's kind and input shape). */
export const buildModel = open({ id: str, max_seq_len: nonNegInt });

export const releaseCell = obj({
  cell: releaseCellRef,
  file: releaseFile,
  toolchain: obj({ name: str, build: toolchainVersions, device: toolchainVersions }),
  /** From the lower stage's manifest.json. */
  build: obj({
    program_sha256: sha256,
    delegation,
    model: buildModel,
    recipe: record(unknownValue),
    backend: record(unknownValue),
    created_at: str,
  }),
  gate: gateResult,
  bench: record(benchFigure),
  roofline: nullable(roofline),
  device: obj({ runner: str, board: str, os: str, kernel: str, cpu: str }),
  run: obj({ session: str, started_at: str, finished_at: str, git_sha: gitSha }),
});
export type ReleaseCell = Infer<typeof releaseCell>;

/** `model.pte.part-01-of-12`: the index is zero-padded so names sort in order. */
export function partName(name: string, index: number, count: number): string {
  const width = String(count).length;
  return `${name}.part-${String(index + 1).padStart(width, "0")}-of-${count}`;
}

type Problem = { path: PathSegment[]; message: string } | null;

/** The rules a reader relies on to reassemble: names, sizes, offsets, the limit, uniqueness. */
function fileRule(c: ReleaseCell, i: number, limit: number): Problem {
  const at = (...rest: PathSegment[]) => ["cells", i, "file", ...rest];
  const f = c.file;
  const expected = `${cellSlug(c.cell)}.pte`;
  if (f.name !== expected) return { path: at("name"), message: `expected ${expected}` };
  if (f.parts === null) {
    return f.bytes < limit
      ? null
      : { path: at("parts"), message: `${f.bytes} bytes must be split (limit ${limit})` };
  }
  if (f.parts.length < 2) return { path: at("parts"), message: "a split file has at least 2 parts" };
  let offset = 0;
  for (const [j, p] of f.parts.entries()) {
    const name = partName(f.name, j, f.parts.length);
    if (p.name !== name) return { path: at("parts", j, "name"), message: `expected ${name}` };
    if (p.offset !== offset) return { path: at("parts", j, "offset"), message: `expected ${offset}` };
    if (p.bytes >= limit)
      return { path: at("parts", j, "bytes"), message: `must be below the limit ${limit}` };
    offset += p.bytes;
  }
  return offset === f.bytes ? null : { path: at("bytes"), message: `the parts add up to ${offset}` };
}

export const releaseManifest = refine(
  obj({
    schema: literal(RELEASE_SCHEMA),
    tag: nonEmptyStr,
    git_sha: gitSha,
    created_at: str,
    /** `owner/name`. */
    repository: pattern(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "owner/name"),
    workflow_run: nullable(obj({ id: nonNegInt, url: str })),
    /** Every uploaded asset is smaller than this (GitHub's limit is 2 GiB). */
    part_limit_bytes: refine(positiveInt, (n) =>
      n < 2 ? { path: [], message: "must be at least 2" } : null,
    ),
    cells: arr(releaseCell),
  }),
  (m) => {
    const ids = new Set<string>();
    const names = new Set<string>();
    for (const [i, c] of m.cells.entries()) {
      if (ids.has(c.cell.id))
        return { path: ["cells", i, "cell", "id"], message: "a second entry for this cell" };
      if (names.has(c.file.name))
        return { path: ["cells", i, "file", "name"], message: "a second file of this name" };
      ids.add(c.cell.id);
      names.add(c.file.name);
      const problem = fileRule(c, i, m.part_limit_bytes);
      if (problem !== null) return problem;
    }
    return null;
  },
);
export type ReleaseManifest = Infer<typeof releaseManifest>;
