/**
 * Reading a release asset's bytes back, streamed: `.pte` files reach several GB, so nothing here
 * holds a whole file in memory.
 *
 * The API answers `Accept: application/octet-stream` with a 302 to GitHub's object store; fetch
 * follows it, and because the store is another origin it drops the Authorization header there, as
 * the store wants. octokit is told not to parse the body, so it hands over the stream.
 */
import { createHash, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { InfrastructureError } from "../core/errors.ts";
import type { GitHub } from "./client.ts";
import { callGitHub } from "./errors.ts";
import type { RepoRef } from "./releases.ts";

/** What went through a {@link HashTap}. */
export interface Digest {
  bytes: number;
  /** Lower-case hex. */
  sha256: string;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashTap extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private count = 0;
  private result: Digest | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.result = { bytes: this.count, sha256: this.hash.digest("hex") };
    done();
  }

  /** The digest once the stream has ended (undefined before: a cut stream has none). */
  get digest(): Digest | undefined {
    return this.result;
  }
}

export interface AssetWhere extends RepoRef {
  assetId: number;
}

/** The asset's bytes as a stream, following GitHub's redirect to its object store. */
export async function openReleaseAsset(gh: GitHub, where: AssetWhere): Promise<Readable> {
  const { owner, repo, assetId } = where;
  const operation = {
    action: `download release asset ${assetId} of ${owner}/${repo}`,
    permission: "contents: read (contents: write for an asset of a draft release)",
  };
  const response = await callGitHub(operation, () =>
    gh.request("GET /repos/{owner}/{repo}/releases/assets/{asset_id}", {
      owner,
      repo,
      asset_id: assetId,
      headers: { accept: "application/octet-stream" },
      request: { parseSuccessResponseBody: false },
    }),
  );
  const body = response.data as unknown as WebReadableStream<Uint8Array> | null;
  if (body === null) throw new InfrastructureError(`GitHub: ${operation.action}: the reply had no body`);
  return Readable.fromWeb(body);
}

/** Hashes the asset's bytes as they arrive, keeping none of them. */
export async function hashReleaseAsset(gh: GitHub, where: AssetWhere): Promise<Digest> {
  const tap = new HashTap();
  try {
    await pipeline(await openReleaseAsset(gh, where), tap, async (source) => {
      for await (const _ of source);
    });
  } catch (error) {
    throw cut(where, error);
  }
  return tap.digest as Digest;
}

export interface DownloadOptions extends AssetWhere {
  /** Where the file goes; it appears there only complete (written to `<dest>.partial`, then renamed). */
  dest: string;
  /** When given, a download that does not match is removed and refused: `dest` never holds it. */
  expect?: { size: number; sha256: string; name?: string };
}

/** Streams the asset to `dest`; a failed or refused download leaves nothing behind. */
export async function downloadReleaseAsset(gh: GitHub, options: DownloadOptions): Promise<Digest> {
  const partial = `${options.dest}.partial`;
  const tap = new HashTap();
  try {
    try {
      await pipeline(await openReleaseAsset(gh, options), tap, createWriteStream(partial));
    } catch (error) {
      throw cut(options, error);
    }
    const got = tap.digest as Digest;
    const { expect } = options;
    if (expect && (got.bytes !== expect.size || got.sha256 !== expect.sha256)) {
      throw new InfrastructureError(
        `Release asset ${expect.name ?? options.assetId} of ${options.owner}/${options.repo} does not verify: ` +
          `downloaded ${got.bytes} bytes with sha256 ${got.sha256}, expected ${expect.size} bytes with sha256 ${expect.sha256}. ` +
          "It was not kept; the release's files do not match its manifest.",
      );
    }
    await rename(partial, options.dest);
    return got;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

function cut(where: AssetWhere, error: unknown): Error {
  if (error instanceof InfrastructureError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(
    `GitHub: the download of release asset ${where.assetId} of ${where.owner}/${where.repo} broke off: ${text}. ` +
      "Run it again.",
    { cause: error },
  );
}
