/**
 * Release assets that are exactly the bytes the farm built, or absent.
 *
 * What GitHub does that this guards against:
 * - an upload cut off half-way leaves an asset in state "open" that still holds the name, so the
 *   retry answers 422 `already_exists` until the leftover is deleted;
 * - an upload can be stored and still answer 5xx (or lose its connection), so a blind retry
 *   fails on the name, and an unverified leftover must not be mistaken for the file;
 * - what was stored can differ from what was sent, so every upload is checked against the size
 *   and sha256 the caller expects: GitHub's `digest` when it gives one, else the bytes, downloaded
 *   and hashed (older GitHub answers `digest: null`).
 * Uploads are idempotent: a name that already holds the verified file is reused, anything else
 * under that name is deleted before uploading. The file is streamed from disk with its length,
 * never read whole (uploads.github.com needs a Content-Length; a `.pte` can be several GB).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import type { GitHub } from "./client.ts";
import {
  callGitHub,
  explainGitHubError,
  type GitHubOperation,
  mayHaveCommitted,
  statusOf,
} from "./errors.ts";
import { HashTap, hashReleaseAsset } from "./release-download.ts";
import { describeRelease, RELEASE_PERMISSION, type Release, type RepoRef } from "./releases.ts";
import type { WriteOptions } from "./safe-writes.ts";

/** The fields of GitHub's `release-asset` object the farm reads. */
export interface ReleaseAsset {
  id: number;
  name: string;
  label: string | null;
  state: "uploaded" | "open";
  content_type: string;
  size: number;
  /** `sha256:<hex>` of the stored bytes; null on GitHub versions before digests. */
  digest: string | null;
  browser_download_url: string;
}

/** What an asset must be: the caller's size and sha256 (lower-case hex) of the file. */
export interface ExpectedFile {
  size: number;
  sha256: string;
}

/** An asset that is not the expected file. */
export class ReleaseAssetMismatchError extends InfrastructureError {
  readonly asset: string;
  constructor(asset: string, problem: string) {
    super(`Release asset ${asset} does not verify: ${problem}.`);
    this.name = "ReleaseAssetMismatchError";
    this.asset = asset;
  }
}

/** GitHub's limit per release asset (2 GiB); larger files must be split before uploading. */
export const GITHUB_ASSET_LIMIT = 2 * 1024 ** 3;

export async function listReleaseAssets(
  gh: GitHub,
  where: RepoRef & { releaseId: number },
): Promise<ReleaseAsset[]> {
  const { owner, repo, releaseId } = where;
  const operation = {
    action: `list the assets of release ${releaseId} of ${owner}/${repo}`,
    permission: RELEASE_PERMISSION,
  };
  return callGitHub(operation, () =>
    gh.paginate(gh.rest.repos.listReleaseAssets, { owner, repo, release_id: releaseId, per_page: 100 }),
  ) as Promise<ReleaseAsset[]>;
}

/** Deletes an asset; one already gone counts as deleted. */
export async function deleteReleaseAsset(
  gh: GitHub,
  where: RepoRef & { asset: ReleaseAsset },
): Promise<void> {
  const { owner, repo, asset } = where;
  const operation = {
    action: `delete release asset ${asset.name} (id ${asset.id}) of ${owner}/${repo}`,
    permission: RELEASE_PERMISSION,
  };
  await callGitHub(operation, async () => {
    try {
      await gh.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: asset.id });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  });
}

/**
 * Why `asset` is not the expected file, or undefined when it is. With `digest: null` the bytes
 * are downloaded and hashed (streamed), so this can take as long as a download.
 */
export async function assetProblem(
  gh: GitHub,
  where: RepoRef & { asset: ReleaseAsset; expected: ExpectedFile },
): Promise<string | undefined> {
  const { asset, expected } = where;
  if (asset.state !== "uploaded") {
    return `its state is "${asset.state}" (an upload that never finished), expected "uploaded"`;
  }
  if (asset.size !== expected.size) return `GitHub holds ${asset.size} bytes, expected ${expected.size}`;
  const digest = asset.digest?.startsWith("sha256:") ? asset.digest.slice("sha256:".length) : undefined;
  const found = digest ?? (await hashReleaseAsset(gh, { ...where, assetId: asset.id })).sha256;
  if (found !== expected.sha256.toLowerCase()) {
    const how = digest ? "GitHub's digest is" : "the downloaded bytes hash to";
    return `${how} sha256 ${found}, expected ${expected.sha256}`;
  }
  return undefined;
}

/** Throws a {@link ReleaseAssetMismatchError} unless `asset` is exactly the expected file. */
export async function verifyReleaseAsset(
  gh: GitHub,
  where: RepoRef & { asset: ReleaseAsset } & ExpectedFile,
): Promise<void> {
  const problem = await assetProblem(gh, { ...where, expected: where });
  if (problem) throw new ReleaseAssetMismatchError(`${where.asset.name} (id ${where.asset.id})`, problem);
}

export interface UploadAssetOptions extends RepoRef, WriteOptions, ExpectedFile {
  release: Release;
  /** The file on disk. */
  path: string;
  /** The asset's name on the release. */
  name: string;
  contentType?: string;
  label?: string;
  /** The uploads host; default the origin of the release's `upload_url` (uploads.github.com). */
  baseUrl?: string;
}

/**
 * Uploads `path` as the asset `name` and returns the asset once it verifies. Safe to call again:
 * a verified asset of that name is reused. After a 5xx or a dropped connection the assets are
 * listed again; one GitHub stored and that verifies counts as done, anything else under the name
 * is deleted and the upload retried (`attempts`, default 3, waiting `settleMs` × attempt between).
 * GitHub storing other bytes than were sent counts as a failed attempt too (the bad asset is
 * deleted); when the attempts run out, the mismatch is thrown.
 */
export async function uploadReleaseAsset(gh: GitHub, options: UploadAssetOptions): Promise<ReleaseAsset> {
  const { owner, repo, release, name, logger } = options;
  const expected = { size: options.size, sha256: options.sha256.toLowerCase() };
  const onDisk = await stat(options.path);
  if (onDisk.size !== expected.size) {
    throw new InfrastructureError(
      `${options.path} has ${onDisk.size} bytes, but ${expected.size} were expected for release asset ${name}: ` +
        "the file changed after its size and sha256 were taken.",
    );
  }
  const operation: GitHubOperation = {
    action: `upload ${name} to ${describeRelease(options, release)}`,
    permission: RELEASE_PERMISSION,
  };
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const existing = (await listReleaseAssets(gh, { owner, repo, releaseId: release.id })).find(
      (a) => a.name === name,
    );
    if (existing) {
      const problem = await assetProblem(gh, { owner, repo, asset: existing, expected });
      if (problem === undefined) {
        logger.info(`${name} is already on ${describeRelease(options, release)} and verifies`);
        return existing;
      }
      logger.warn(`deleting release asset ${name} (id ${existing.id}) before uploading: ${problem}`);
      await deleteReleaseAsset(gh, { owner, repo, asset: existing });
    }
    let asset: ReleaseAsset;
    try {
      asset = await send(gh, options, expected);
    } catch (error) {
      const retriable = mayHaveCommitted(error) || isAlreadyExists(error);
      if (!retriable) throw refused(operation, options, error);
      if (attempt >= attempts) throw explainGitHubError(operation, error);
      logger.warn(
        `GitHub: ${operation.action} failed (${describeFailure(error)}); ` +
          `checking what GitHub kept, then trying again (attempt ${attempt + 1} of ${attempts})`,
      );
      await sleep((options.settleMs ?? 2000) * attempt);
      continue;
    }
    const problem = await assetProblem(gh, { owner, repo, asset, expected });
    if (problem === undefined) {
      logger.info(`uploaded ${name} (${expected.size} bytes) to ${describeRelease(options, release)}`);
      return asset;
    }
    await deleteReleaseAsset(gh, { owner, repo, asset });
    if (attempt >= attempts) {
      throw new ReleaseAssetMismatchError(
        `${name} on ${describeRelease(options, release)}`,
        `${problem}, after ${attempts} uploads (each bad copy was deleted)`,
      );
    }
    logger.warn(`GitHub stored ${name} wrongly (${problem}); deleted it, uploading again`);
  }
}

/** One upload, streamed from disk and hashed on the way out. */
async function send(gh: GitHub, options: UploadAssetOptions, expected: ExpectedFile): Promise<ReleaseAsset> {
  const { owner, repo, release, name } = options;
  const tap = new HashTap();
  let readError: NodeJS.ErrnoException | undefined;
  const body = pipeline(createReadStream(options.path), tap, (error) => {
    // fs errors carry a syscall; the others are the stream torn down by a failed request.
    if ((error as NodeJS.ErrnoException | null)?.syscall) readError = error as NodeJS.ErrnoException;
  });
  try {
    const { data } = await gh.rest.repos.uploadReleaseAsset({
      owner,
      repo,
      release_id: release.id,
      name,
      ...(options.label !== undefined ? { label: options.label } : {}),
      baseUrl: options.baseUrl ?? new URL(release.upload_url.replace(/\{.*$/, "")).origin,
      // A Node stream: octokit hands it to fetch with `duplex: "half"`, and fetch streams it.
      data: body as unknown as string,
      headers: {
        "content-type": options.contentType ?? "application/octet-stream",
        "content-length": expected.size,
      },
    });
    const sent = tap.digest;
    if (sent && sent.sha256 !== expected.sha256) {
      await deleteReleaseAsset(gh, { owner, repo, asset: data as ReleaseAsset });
      throw new InfrastructureError(
        `${options.path} hashed to sha256 ${sent.sha256} while it was uploaded, but ${expected.sha256} was ` +
          `expected for release asset ${name}: the file changed after its sha256 was taken. The upload was deleted.`,
      );
    }
    return data as ReleaseAsset;
  } catch (error) {
    if (readError === undefined) throw error;
    throw new InfrastructureError(
      `could not read ${options.path} to upload it as ${name}: ${readError.message}`,
      {
        cause: readError,
      },
    );
  } finally {
    body.destroy();
  }
}

function isAlreadyExists(error: unknown): boolean {
  if (statusOf(error) !== 422) return false;
  const errors = (error as { response?: { data?: { errors?: { code?: string }[] } } }).response?.data?.errors;
  return Array.isArray(errors) && errors.some((e) => e.code === "already_exists");
}

/** A 4xx that sending again would not change, explained with what to fix. */
function refused(operation: GitHubOperation, options: UploadAssetOptions, error: unknown): Error {
  if (statusOf(error) === 422) {
    const explained = explainGitHubError(operation, error);
    const said = explained.message.replace(/\. GitHub refused.*$/, "");
    return new ConfigurationError(
      `${said}. GitHub refused the file (${options.size} bytes): each release asset must be smaller than ` +
        `${GITHUB_ASSET_LIMIT} bytes (2 GiB) and its name unique on the release; split larger files into parts.`,
      { cause: error },
    );
  }
  return explainGitHubError(operation, error);
}

function describeFailure(error: unknown): string {
  if (isAlreadyExists(error)) return "HTTP 422: the name is taken";
  const status = statusOf(error);
  const response = (error as { response?: unknown }).response;
  return status !== undefined && response !== undefined
    ? `HTTP ${status}`
    : `no answer: ${(error as Error).message}`;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
