/**
 * The reading side of a release (`pte-farm fetch`), without the network: given a folder of
 * downloaded assets, prove that one cell's `.pte` is the file the release published, or refuse.
 *
 * The chain of trust: SHA256SUMS names manifest.json's hash; manifest.json names the cell's file
 * (or its parts) with size and hash, and SHA256SUMS must agree with it for every one of them; the
 * parts are joined and the whole checked again. (That the release itself is the repository's is
 * GitHub's attestation, `gh attestation verify`, which is outside this module.)
 *
 * Nothing unverified is left in the output folder: the `.pte` is written to `<file>.partial` and
 * renamed only after every check passed, and a previous copy of the same file is removed before
 * the attempt, so whatever is there afterwards came from a verification that passed.
 */
import { constants } from "node:fs";
import { mkdir, open, realpath, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { globToRegExp } from "../../../matrix/ids.ts";
import { ConfigurationError } from "../core/errors.ts";
import { sha256Text } from "../core/hashing.ts";
import { parseJson, ValidationError } from "../core/validate.ts";
import {
  cellSlug,
  type ReleaseCell,
  type ReleaseManifest,
  releaseManifest,
} from "../schemas/release-manifest.ts";
import { VerificationError } from "./errors.ts";
import { MANIFEST_ASSET, SUMS_ASSET } from "./names.ts";
import { reassemble } from "./parts.ts";
import { parseSums } from "./sums.ts";

/** manifest.json and SHA256SUMS are read whole; a release of thousands of cells is far below this. */
const MAX_META_BYTES = 64 * 1024 * 1024;

export interface VerifiedCell {
  /** The verified `.pte` in the output folder. */
  pte: string;
  /** `<slug>.manifest.json` beside it: the cell's manifest entry and the release it came from. */
  manifest: string;
  entry: ReleaseCell;
}

async function readMeta(dir: string, name: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path.join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new VerificationError(name, "missing");
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new VerificationError(name, "not a regular file");
    if (info.size > MAX_META_BYTES)
      throw new VerificationError(name, `${info.size} bytes, over ${MAX_META_BYTES}`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** SHA256SUMS and manifest.json from `dir`, the manifest checked against the sums and its schema. */
export async function readVerifiedManifest(
  dir: string,
): Promise<{ manifest: ReleaseManifest; sums: Map<string, string> }> {
  let sums: Map<string, string>;
  try {
    sums = parseSums((await readMeta(dir, SUMS_ASSET)).toString("utf8"), SUMS_ASSET);
  } catch (err) {
    if (err instanceof ConfigurationError) throw new VerificationError(SUMS_ASSET, err.message);
    throw err;
  }
  const want = sums.get(MANIFEST_ASSET);
  if (want === undefined) throw new VerificationError(SUMS_ASSET, `has no line for ${MANIFEST_ASSET}`);
  const bytes = await readMeta(dir, MANIFEST_ASSET);
  const got = sha256Text(bytes);
  if (got !== want) {
    throw new VerificationError(MANIFEST_ASSET, `expected sha256 ${want} (from ${SUMS_ASSET}), found ${got}`);
  }
  try {
    const manifest = parseJson(releaseManifest, bytes.toString("utf8"), MANIFEST_ASSET);
    return { manifest, sums };
  } catch (err) {
    if (err instanceof ValidationError) throw new VerificationError(MANIFEST_ASSET, err.message);
    throw err;
  }
}

/**
 * The release's entry for `query`: an exact cell id, or a glob (matrix/ids.ts) that matches exactly
 * one cell. Anything else is the user's to fix, and the message lists the release's cells.
 */
export function resolveCell(manifest: ReleaseManifest, query: string): ReleaseCell {
  const exact = manifest.cells.find((c) => c.cell.id === query);
  if (exact !== undefined) return exact;
  const re = globToRegExp(query);
  const matches = manifest.cells.filter((c) => re.test(c.cell.id));
  if (matches.length === 1) return matches[0] as ReleaseCell;
  const all = manifest.cells.map((c) => c.cell.id).join(", ") || "(none)";
  if (matches.length === 0) {
    throw new ConfigurationError(
      `release ${manifest.tag} has no cell matching ${JSON.stringify(query)}; its cells: ${all}`,
    );
  }
  throw new ConfigurationError(
    `${JSON.stringify(query)} matches ${matches.length} cells of release ${manifest.tag} (${matches.map((c) => c.cell.id).join(", ")}); name one`,
  );
}

/** The asset names to download for `query`'s cell (its file or its parts), given the release's manifest. */
export function assetsForCell(manifest: ReleaseManifest, query: string): string[] {
  const f = resolveCell(manifest, query).file;
  return f.parts === null ? [f.name] : f.parts.map((p) => p.name);
}

/**
 * Verifies `query`'s cell in the downloaded assets of `dir` and writes the verified `.pte` and its
 * `<slug>.manifest.json` into `out` (which must not be `dir`: the downloads are unverified).
 * Throws {@link VerificationError} for anything that does not verify.
 */
export async function verifyCell(dir: string, query: string, out: string): Promise<VerifiedCell> {
  await mkdir(out, { recursive: true });
  if ((await realpath(dir)) === (await realpath(out))) {
    throw new ConfigurationError(
      `the output folder ${out} is the download folder; verify into another folder`,
    );
  }
  const { manifest, sums } = await readVerifiedManifest(dir);
  const entry = resolveCell(manifest, query);
  const f = entry.file;
  const pieces = f.parts ?? [{ name: f.name, sha256: f.sha256, bytes: f.bytes }];
  for (const p of pieces) {
    const listed = sums.get(p.name);
    if (listed === undefined) throw new VerificationError(p.name, `${SUMS_ASSET} has no line for it`);
    if (listed !== p.sha256) {
      throw new VerificationError(
        p.name,
        `${SUMS_ASSET} says sha256 ${listed}, ${MANIFEST_ASSET} says ${p.sha256}`,
      );
    }
  }
  const dest = path.join(out, f.name);
  const sidecar = path.join(out, `${cellSlug(entry.cell)}.manifest.json`);
  await rm(dest, { force: true });
  await rm(sidecar, { force: true });
  await reassemble(
    pieces.map((p) => ({ path: path.join(dir, p.name), name: p.name, sha256: p.sha256, bytes: p.bytes })),
    dest,
    { name: f.name, sha256: f.sha256, bytes: f.bytes },
  );
  const release = { tag: manifest.tag, repository: manifest.repository, git_sha: manifest.git_sha };
  await writeFile(`${sidecar}.partial`, `${JSON.stringify({ release, ...entry }, null, 2)}\n`);
  await rename(`${sidecar}.partial`, sidecar);
  return { pte: dest, manifest: sidecar, entry };
}
