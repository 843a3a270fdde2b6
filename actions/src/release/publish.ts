/**
 * The writing side of a release: the staging folder that `prepareRelease` wrote becomes a GitHub
 * release. Order matters, because a release that people can see must never hold a file that does
 * not verify:
 *
 * 1. the staging folder is checked against its own SHA256SUMS (nothing added, removed or changed
 *    since prepare, and the attestation step, saw it);
 * 2. the release is a draft (created, or this tag's draft from an earlier attempt reused);
 * 3. every asset is streamed up and verified (size, and sha256 from GitHub's digest or by reading
 *    it back); an interrupted upload's partial asset is deleted and the upload retried
 *    (github/release-assets.ts); assets an earlier attempt left that this release does not hold
 *    are deleted;
 * 4. the draft's asset list is checked once more, whole, against SHA256SUMS;
 * 5. only then is it published (or left a verified draft, when asked).
 *
 * A rerun after any failure starts again at 1 and reuses what already verifies.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import { sha256File } from "../core/hashing.ts";
import type { Logger } from "../core/logger.ts";
import type { GitHub } from "../github/client.ts";
import {
  assetProblem,
  deleteReleaseAsset,
  listReleaseAssets,
  type ReleaseAsset,
  uploadReleaseAsset,
} from "../github/release-assets.ts";
import { ensureDraftRelease, publishRelease, type Release } from "../github/releases.ts";
import type { ReleaseManifest } from "../schemas/release-manifest.ts";
import { MANIFEST_ASSET, NOTES_FILE, SUMS_ASSET } from "./names.ts";
import { readVerifiedManifest } from "./verify.ts";

export interface PublishStagedOptions {
  gh: GitHub;
  owner: string;
  repo: string;
  /** The folder prepareRelease wrote. */
  staging: string;
  /** The tag the release is for; it must be the manifest's. */
  tag: string;
  /** The commit the tag names (the release's target). */
  targetCommitish: string;
  /** false: stop at a verified draft, for a person to publish. */
  publish: boolean;
  makeLatest?: boolean;
  logger: Logger;
  /** Test hook: the wait between upload attempts (default: the client's). */
  settleMs?: number;
  attempts?: number;
}

export interface StagedAsset {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface PublishedRelease {
  id: number;
  url: string;
  draft: boolean;
  assets: StagedAsset[];
  manifest: ReleaseManifest;
}

/**
 * The staging folder's assets, each hashed again and held to SHA256SUMS; SHA256SUMS itself last.
 * Anything in the folder that SHA256SUMS does not name (other than the notes) is refused.
 */
export async function readStaged(
  staging: string,
): Promise<{ assets: StagedAsset[]; manifest: ReleaseManifest; notes: string }> {
  const { manifest, sums } = await readVerifiedManifest(staging);
  const entries = await readdir(staging, { withFileTypes: true });
  const present = new Set<string>();
  for (const e of entries) {
    if (!e.isFile()) {
      throw new InfrastructureError(`staging folder ${staging}: ${e.name} is not a regular file`);
    }
    present.add(e.name);
  }
  const strays = [...present].filter((n) => n !== NOTES_FILE && n !== SUMS_ASSET && !sums.has(n));
  if (strays.length > 0) {
    throw new InfrastructureError(
      `staging folder ${staging} holds ${strays.join(", ")}, which ${SUMS_ASSET} does not list: ` +
        "the folder changed after prepare; run prepare again",
    );
  }
  const assets: StagedAsset[] = [];
  for (const [name, sha256] of [...sums].sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))) {
    if (!present.has(name)) {
      throw new InfrastructureError(`staging folder ${staging} has no ${name}, which ${SUMS_ASSET} lists`);
    }
    const file = path.join(staging, name);
    const found = await sha256File(file);
    if (found !== sha256) {
      throw new InfrastructureError(
        `staging folder ${staging}: ${name} hashes to ${found}, but ${SUMS_ASSET} says ${sha256}: ` +
          "the file changed after prepare; run prepare again",
      );
    }
    assets.push({ name, path: file, size: (await stat(file)).size, sha256 });
  }
  const sumsPath = path.join(staging, SUMS_ASSET);
  assets.push({
    name: SUMS_ASSET,
    path: sumsPath,
    size: (await stat(sumsPath)).size,
    sha256: await sha256File(sumsPath),
  });
  let notes: string;
  try {
    notes = await readFile(path.join(staging, NOTES_FILE), "utf8");
  } catch {
    throw new InfrastructureError(`staging folder ${staging} has no ${NOTES_FILE}; run prepare again`);
  }
  return { assets, manifest, notes };
}

/** Model files first, manifest.json after them (SHA256SUMS is appended last). */
function order(name: string): number {
  return name === MANIFEST_ASSET ? 1 : 0;
}

/** Uploads the staged release to a draft, verifies every asset, and publishes it when asked. */
export async function publishStaged(o: PublishStagedOptions): Promise<PublishedRelease> {
  const { gh, owner, repo, logger } = o;
  const { assets, manifest, notes } = await readStaged(o.staging);
  if (manifest.tag !== o.tag) {
    throw new ConfigurationError(
      `the staged release is for tag ${manifest.tag}, not ${o.tag}: publish the staging folder its tag's run prepared`,
    );
  }
  const write = {
    logger,
    ...(o.settleMs === undefined ? {} : { settleMs: o.settleMs }),
    ...(o.attempts === undefined ? {} : { attempts: o.attempts }),
  };
  const { release, action } = await ensureDraftRelease(gh, {
    owner,
    repo,
    tag: o.tag,
    name: o.tag,
    body: notes,
    targetCommitish: o.targetCommitish,
    ...write,
  });
  logger.info(`release ${o.tag}: draft ${action} (id ${release.id})`);

  for (const a of assets) {
    const uploaded = await uploadReleaseAsset(gh, {
      owner,
      repo,
      release,
      path: a.path,
      name: a.name,
      size: a.size,
      sha256: a.sha256,
      // GitHub's description of the upload accepts application/octet-stream only; that is what a
      // download answers with anyway.
      contentType: "application/octet-stream",
      ...write,
    });
    logger.info(`release ${o.tag}: ${a.name} uploaded and verified (${uploaded.size} bytes)`);
  }

  await checkDraft(gh, { owner, repo, release, assets, logger });

  if (!o.publish) {
    logger.info(`release ${o.tag}: every asset verifies; left as a draft (publish: false)`);
    return { id: release.id, url: release.html_url, draft: true, assets, manifest };
  }
  const published = await publishRelease(gh, {
    owner,
    repo,
    release,
    ...(o.makeLatest === undefined ? {} : { makeLatest: o.makeLatest }),
    ...write,
  });
  logger.info(`release ${o.tag}: published ${published.html_url}`);
  return { id: published.id, url: published.html_url, draft: false, assets, manifest };
}

/**
 * The draft holds exactly the staged assets, each verified; assets an earlier attempt left that
 * this release does not hold are deleted first.
 */
async function checkDraft(
  gh: GitHub,
  o: { owner: string; repo: string; release: Release; assets: StagedAsset[]; logger: Logger },
): Promise<void> {
  const want = new Map(o.assets.map((a) => [a.name, a]));
  let held = await listReleaseAssets(gh, { owner: o.owner, repo: o.repo, releaseId: o.release.id });
  for (const stale of held.filter((a) => !want.has(a.name))) {
    o.logger.info(`release ${o.release.tag_name}: deleting ${stale.name}, which this release does not hold`);
    await deleteReleaseAsset(gh, { owner: o.owner, repo: o.repo, asset: stale });
  }
  held = await listReleaseAssets(gh, { owner: o.owner, repo: o.repo, releaseId: o.release.id });
  const byName = new Map<string, ReleaseAsset[]>();
  for (const a of held) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  const problems: string[] = [];
  for (const a of o.assets) {
    const found = byName.get(a.name) ?? [];
    if (found.length !== 1) {
      problems.push(`${a.name}: the draft holds ${found.length} assets of that name, expected 1`);
      continue;
    }
    const problem = await assetProblem(gh, {
      owner: o.owner,
      repo: o.repo,
      asset: found[0] as ReleaseAsset,
      expected: { size: a.size, sha256: a.sha256 },
    });
    if (problem !== undefined) problems.push(`${a.name}: ${problem}`);
  }
  const extra = held.filter((a) => !want.has(a.name)).map((a) => a.name);
  if (extra.length > 0) problems.push(`the draft still holds ${extra.join(", ")}`);
  if (problems.length > 0) {
    throw new InfrastructureError(
      `release ${o.release.tag_name} was not published: its draft does not match the staged files:\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nRun the release job again: it reuses what verifies and uploads the rest.",
    );
  }
}
