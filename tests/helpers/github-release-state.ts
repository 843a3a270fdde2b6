/**
 * An in-memory store of releases and their assets for the local GitHub server, behaving as
 * GitHub does where the farm depends on it:
 *
 * - several drafts may share a tag, but a tag has at most one published release (create or
 *   publish answers 422 `already_exists`); `get-release-by-tag` never finds a draft, the list does;
 * - an asset name is taken by any asset, finished or not: a second upload answers 422
 *   `already_exists` until the first is deleted;
 * - an upload cut off mid-body leaves an asset in state `open` with the bytes that arrived and no
 *   digest (fault `dropAfterBodyBytes`, see `interruptUploads`);
 * - an uploaded asset carries `digest: "sha256:<hex>"` of the bytes stored (or null, as on older
 *   GitHub, with `digests: false`);
 * - `get-release-asset` with `Accept: application/octet-stream` answers 302 to the object store,
 *   played here by a route outside the API (`/_objects/release-assets/<id>`) on the same server
 *   (so, unlike on github.com, the redirect stays on one origin); `cutDownloads` breaks it off.
 *
 * Uploads without a Content-Length are refused (400): uploads.github.com needs the length up front
 * and does not take a chunked body (octokit.js#654 found it "not documented, but required").
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { paginate } from "./github-pagination.ts";
import { example, now } from "./github-repo-state.ts";
import {
  errorReply,
  type GitHubRequest,
  type GitHubServer,
  type Handler,
  type Reply,
} from "./github-server.ts";

type Json = Record<string, unknown>;

export interface StoredAsset {
  id: number;
  releaseId: number;
  name: string;
  label: string | null;
  state: "uploaded" | "open";
  contentType: string;
  bytes: Buffer;
  digest: string | null;
  createdAt: string;
}

export interface StoredRelease extends Json {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  published_at: string | null;
}

export interface ReleaseStoreOptions {
  /** The server's own URL: upload_url and download redirects point here. */
  origin: string;
  /** Uploads larger than this are refused with 422, as GitHub refuses files of 2 GiB or more. */
  maxAssetBytes?: number;
  /** false: assets carry `digest: null`, as on GitHub before digests were introduced (2025). */
  digests?: boolean;
}

export const OBJECTS_PREFIX = "/_objects/release-assets/";

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export class ReleaseStore {
  readonly releases: StoredRelease[] = [];
  readonly assets: StoredAsset[] = [];
  /** Assets deleted through the API, oldest first (what a retry cleaned up). */
  readonly deleted: StoredAsset[] = [];
  readonly owner: string;
  readonly repo: string;
  options: ReleaseStoreOptions;
  private nextId = 5000;
  private corruptions = 0;
  private readonly downloadCuts: number[] = [];
  private readonly api: string;
  private readonly html: string;
  private readonly templates = {
    release: example("repos/create-release", "201"),
    asset: example("repos/upload-release-asset", "201"),
  };

  constructor(owner: string, repo: string, options: ReleaseStoreOptions) {
    this.owner = owner;
    this.repo = repo;
    this.options = options;
    this.api = `https://api.github.com/repos/${owner}/${repo}`;
    this.html = `https://github.com/${owner}/${repo}`;
  }

  /** Seeds a release (as another run or a person would have made it). */
  addRelease(fields: { tag: string; name?: string; body?: string; draft?: boolean; target?: string }) {
    const id = this.nextId++;
    const at = now();
    const release = structuredClone(this.templates.release) as StoredRelease;
    Object.assign(release, {
      id,
      node_id: `RE_local${id}`,
      url: `${this.api}/releases/${id}`,
      html_url: `${this.html}/releases/tag/${fields.tag}`,
      assets_url: `${this.api}/releases/${id}/assets`,
      upload_url: `${this.options.origin}/repos/${this.owner}/${this.repo}/releases/${id}/assets{?name,label}`,
      tarball_url: `${this.api}/tarball/${fields.tag}`,
      zipball_url: `${this.api}/zipball/${fields.tag}`,
      tag_name: fields.tag,
      target_commitish: fields.target ?? "main",
      name: fields.name ?? null,
      body: fields.body ?? null,
      draft: fields.draft ?? false,
      prerelease: false,
      immutable: false,
      created_at: at,
      published_at: fields.draft ? null : at,
      assets: [],
    });
    delete release.discussion_url;
    this.releases.push(release);
    return release;
  }

  /** Seeds an asset directly (no upload), e.g. a partial one a crashed run left behind. */
  addAsset(release: { id: number }, name: string, bytes: Buffer, state: StoredAsset["state"] = "uploaded") {
    const asset: StoredAsset = {
      id: this.nextId++,
      releaseId: release.id,
      name,
      label: null,
      state,
      contentType: "application/octet-stream",
      bytes,
      digest: state === "uploaded" && this.options.digests !== false ? `sha256:${sha256(bytes)}` : null,
      createdAt: now(),
    };
    this.assets.push(asset);
    return asset;
  }

  assetsOf(releaseId: number): StoredAsset[] {
    return this.assets.filter((a) => a.releaseId === releaseId);
  }

  /**
   * The next `times` uploads are cut after `afterBytes` bytes: each leaves an `open` asset holding
   * what arrived, and the client's connection drops.
   */
  interruptUploads(server: GitHubServer, afterBytes: number, times = 1): void {
    server.inject("repos/upload-release-asset", { status: 502, dropAfterBodyBytes: afterBytes }, times);
  }

  /** The next `times` uploads store different bytes than were sent (one byte flipped mid-file). */
  corruptUploads(times = 1): void {
    this.corruptions += times;
  }

  /** The next `times` downloads from the object store break off after `afterBytes` bytes. */
  cutDownloads(afterBytes: number, times = 1): void {
    for (let i = 0; i < times; i++) this.downloadCuts.push(afterBytes);
  }

  /** Every operation this store serves, and the object store, registered on `server`. */
  register(server: GitHubServer): void {
    server.use(this.handlers());
    server.outsideApi(OBJECTS_PREFIX, (req, res, url) => this.serveObject(req, res, url));
  }

  handlers(): Record<string, Handler> {
    const own =
      (h: (req: GitHubRequest) => Reply): Handler =>
      (req) =>
        req.params.owner === this.owner && req.params.repo === this.repo ? h(req) : notFound();
    const all: Record<string, (req: GitHubRequest) => Reply> = {
      "repos/create-release": (req) => this.create(req),
      "repos/list-releases": (req) =>
        paginate(
          req,
          [...this.releases].reverse().map((r) => this.view(r)),
        ),
      "repos/get-release": (req) => this.withRelease(req, (r) => ({ status: 200, body: this.view(r) })),
      "repos/get-release-by-tag": (req) => {
        const release = this.releases.find((r) => r.tag_name === req.params.tag && !r.draft);
        return release ? { status: 200, body: this.view(release) } : notFound();
      },
      "repos/update-release": (req) => this.withRelease(req, (r) => this.update(r, req.body as Json)),
      "repos/delete-release": (req) =>
        this.withRelease(req, (r) => {
          this.releases.splice(this.releases.indexOf(r), 1);
          for (const a of this.assetsOf(r.id)) this.assets.splice(this.assets.indexOf(a), 1);
          return { status: 204 };
        }),
      "repos/upload-release-asset": (req) => this.withRelease(req, (r) => this.upload(r, req)),
      "repos/list-release-assets": (req) =>
        this.withRelease(req, (r) =>
          paginate(
            req,
            this.assetsOf(r.id).map((a) => this.assetView(a)),
          ),
        ),
      "repos/get-release-asset": (req) => this.withAsset(req, (a) => this.getAsset(a, req)),
      "repos/delete-release-asset": (req) =>
        this.withAsset(req, (a) => {
          this.assets.splice(this.assets.indexOf(a), 1);
          this.deleted.push(a);
          return { status: 204 };
        }),
    };
    return Object.fromEntries(Object.entries(all).map(([id, h]) => [id, own(h)]));
  }

  private create(req: GitHubRequest): Reply {
    const body = req.body as {
      tag_name: string;
      target_commitish?: string;
      name?: string;
      body?: string;
      draft?: boolean;
    };
    if (this.published(body.tag_name)) return alreadyExists("Release", "tag_name");
    const release = this.addRelease({
      tag: body.tag_name,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.body !== undefined ? { body: body.body } : {}),
      ...(body.target_commitish !== undefined ? { target: body.target_commitish } : {}),
      draft: body.draft ?? false,
    });
    return { status: 201, body: this.view(release), headers: { location: String(release.url) } };
  }

  private update(release: StoredRelease, patch: Json): Reply {
    const tag = typeof patch.tag_name === "string" ? patch.tag_name : release.tag_name;
    const publishing = patch.draft === false && release.draft;
    if ((publishing || (!release.draft && tag !== release.tag_name)) && this.published(tag, release.id)) {
      return alreadyExists("Release", "tag_name");
    }
    for (const key of ["tag_name", "target_commitish", "name", "body", "prerelease"]) {
      if (patch[key] !== undefined) (release as Json)[key] = patch[key];
    }
    if (patch.draft !== undefined) release.draft = Boolean(patch.draft);
    if (publishing) release.published_at = now();
    release.html_url = `${this.html}/releases/tag/${release.tag_name}`;
    return { status: 200, body: this.view(release) };
  }

  private upload(release: StoredRelease, req: GitHubRequest): Reply {
    const name = String(req.query.name);
    const length = req.headers["content-length"];
    if (length === undefined) return errorReply(400, "Bad Content-Length: an upload needs a Content-Length");
    const max = this.options.maxAssetBytes;
    if (max !== undefined && Number(length) > max) {
      return validationFailed({
        resource: "ReleaseAsset",
        code: "custom",
        field: "size",
        message: `size must be less than ${max} bytes`,
      });
    }
    if (this.assetsOf(release.id).some((a) => a.name === name)) return alreadyExists("ReleaseAsset", "name");
    const sent = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (req.interrupted) {
      // What GitHub keeps of a cut upload: the name taken, state "open", no digest.
      this.addAsset(release, name, Buffer.from(sent), "open");
      return { status: 201 };
    }
    const bytes = Buffer.from(sent);
    if (this.corruptions > 0 && bytes.length > 0) {
      this.corruptions--;
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    }
    const asset = this.addAsset(release, name, bytes);
    asset.label = typeof req.query.label === "string" ? req.query.label : null;
    asset.contentType = req.headers["content-type"] ?? "application/octet-stream";
    return { status: 201, body: this.assetView(asset) };
  }

  private getAsset(asset: StoredAsset, req: GitHubRequest): Reply {
    if (/application\/octet-stream/.test(req.headers.accept ?? "")) {
      return { status: 302, headers: { location: `${this.options.origin}${OBJECTS_PREFIX}${asset.id}` } };
    }
    return { status: 200, body: this.assetView(asset) };
  }

  /** The object store: the asset's bytes as stored, with their length. */
  private serveObject(req: IncomingMessage, res: ServerResponse, url: URL): void {
    req.resume();
    const asset = this.assets.find((a) => String(a.id) === url.pathname.slice(OBJECTS_PREFIX.length));
    if (req.method !== "GET" || asset === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("The specified key does not exist.");
      return;
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(asset.bytes.length),
    });
    const cut = this.downloadCuts.shift();
    if (cut === undefined) {
      res.end(asset.bytes);
      return;
    }
    res.write(asset.bytes.subarray(0, cut), () => res.socket?.destroy());
  }

  private published(tag: string, except?: number): StoredRelease | undefined {
    return this.releases.find((r) => r.tag_name === tag && !r.draft && r.id !== except);
  }

  private withRelease(req: GitHubRequest, then: (r: StoredRelease) => Reply): Reply {
    const release = this.releases.find((r) => r.id === req.params.release_id);
    return release ? then(release) : notFound();
  }

  private withAsset(req: GitHubRequest, then: (a: StoredAsset) => Reply): Reply {
    const asset = this.assets.find((a) => a.id === req.params.asset_id);
    return asset ? then(asset) : notFound();
  }

  private view(release: StoredRelease): Json {
    return { ...release, assets: this.assetsOf(release.id).map((a) => this.assetView(a)) };
  }

  private assetView(asset: StoredAsset): Json {
    const release = this.releases.find((r) => r.id === asset.releaseId);
    return {
      ...structuredClone(this.templates.asset),
      id: asset.id,
      node_id: `RA_local${asset.id}`,
      url: `${this.api}/releases/assets/${asset.id}`,
      browser_download_url: `${this.html}/releases/download/${release?.tag_name ?? "untagged"}/${encodeURIComponent(asset.name)}`,
      name: asset.name,
      label: asset.label,
      state: asset.state,
      content_type: asset.contentType,
      size: asset.bytes.length,
      digest: asset.digest,
      download_count: 0,
      created_at: asset.createdAt,
      updated_at: asset.createdAt,
    };
  }
}

function notFound(): Reply {
  return errorReply(404, "Not Found");
}

function validationFailed(error: Json): Reply {
  return {
    status: 422,
    body: {
      message: "Validation Failed",
      errors: [error],
      documentation_url: "https://docs.github.com/rest/releases",
    },
  };
}

function alreadyExists(resource: string, field: string): Reply {
  return validationFailed({ resource, code: "already_exists", field });
}
