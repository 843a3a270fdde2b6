/**
 * `pte-farm fetch <tag> <cell>`: download one cell's `.pte` from a release and keep it only if it
 * verifies. The network half (which assets, streamed to a private download folder) is here; the
 * proof (SHA256SUMS → manifest.json → the file or its parts → the reassembled whole) is
 * verify.ts's, so what `fetch` accepts is exactly what the release's own files promise.
 *
 * The download folder is created beside the output folder and removed afterwards, whatever
 * happened: unverified bytes never stay on disk under a name someone could pick up.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { GitHub } from "../github/client.ts";
import { listReleaseAssets, type ReleaseAsset } from "../github/release-assets.ts";
import { downloadReleaseAsset } from "../github/release-download.ts";
import { findReleaseByTag } from "../github/releases.ts";
import { VerificationError } from "./errors.ts";
import { MANIFEST_ASSET, SUMS_ASSET } from "./names.ts";
import { assetsForCell, readVerifiedManifest, resolveCell, type VerifiedCell, verifyCell } from "./verify.ts";

export interface FetchOptions {
  gh: GitHub;
  owner: string;
  repo: string;
  tag: string;
  /** An exact cell id, or a glob matching exactly one of the release's cells. */
  cell: string;
  /** Where the verified `.pte` and its `<slug>.manifest.json` go. */
  out: string;
  /** Accept a draft release (visible only with a token that can write the repository). */
  allowDraft?: boolean;
  logger: Logger;
}

export interface FetchedCell extends VerifiedCell {
  /** The release's page. */
  release: string;
  /** Every asset downloaded, for the log. */
  downloaded: string[];
}

/** Downloads, verifies and (for a split file) reassembles one cell of a release. */
export async function fetchRelease(o: FetchOptions): Promise<FetchedCell> {
  const where = `${o.owner}/${o.repo}`;
  const release = await findReleaseByTag(o.gh, { owner: o.owner, repo: o.repo, tag: o.tag });
  if (release === null) {
    throw new ConfigurationError(
      `${where} has no release tagged ${o.tag} (or the token cannot see it); the releases are at https://github.com/${where}/releases`,
    );
  }
  if (release.draft && o.allowDraft !== true) {
    throw new ConfigurationError(
      `the release tagged ${o.tag} in ${where} is still a draft: it has not been verified and published; ` +
        "pass --draft to fetch from it anyway",
    );
  }
  const assets = await listReleaseAssets(o.gh, { owner: o.owner, repo: o.repo, releaseId: release.id });
  const byName = new Map<string, ReleaseAsset>(assets.map((a) => [a.name, a]));

  const out = path.resolve(o.out);
  await mkdir(out, { recursive: true });
  const downloads = await mkdtemp(path.join(out, ".pte-farm-fetch-"));
  const downloaded: string[] = [];
  try {
    const get = async (name: string, expect?: { size: number; sha256: string }) => {
      const asset = byName.get(name);
      if (asset === undefined) {
        throw new VerificationError(name, `missing from release ${o.tag} of ${where}`);
      }
      if (asset.state !== "uploaded") {
        throw new VerificationError(name, `its upload never finished (state "${asset.state}")`);
      }
      o.logger.info(`downloading ${name} (${asset.size} bytes)`);
      await downloadReleaseAsset(o.gh, {
        owner: o.owner,
        repo: o.repo,
        assetId: asset.id,
        dest: path.join(downloads, name),
        ...(expect === undefined ? {} : { expect: { ...expect, name } }),
      });
      downloaded.push(name);
    };
    await get(SUMS_ASSET);
    await get(MANIFEST_ASSET);
    const { manifest } = await readVerifiedManifest(downloads);
    if (manifest.tag !== o.tag) {
      throw new VerificationError(MANIFEST_ASSET, `is the manifest of release ${manifest.tag}, not ${o.tag}`);
    }
    const file = resolveCell(manifest, o.cell).file;
    const expected = new Map(
      (file.parts ?? [{ name: file.name, bytes: file.bytes, sha256: file.sha256 }]).map((p) => [p.name, p]),
    );
    for (const name of assetsForCell(manifest, o.cell)) {
      const want = expected.get(name);
      await get(name, want === undefined ? undefined : { size: want.bytes, sha256: want.sha256 });
    }
    const verified = await verifyCell(downloads, o.cell, out);
    return { ...verified, release: release.html_url, downloaded };
  } finally {
    await rm(downloads, { recursive: true, force: true });
  }
}
