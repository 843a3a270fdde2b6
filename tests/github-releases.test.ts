import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import {
  downloadReleaseAsset,
  ensureDraftRelease,
  findReleaseByTag,
  listReleaseAssets,
  publishRelease,
  ReleaseAssetMismatchError,
  uploadReleaseAsset,
  verifyReleaseAsset,
} from "../actions/src/github/index.ts";
import { tempDir } from "./helpers/env.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { OBJECTS_PREFIX } from "./helpers/github-release-state.ts";
import { errorReply } from "./helpers/github-server.ts";

const MB = 1024 * 1024;

function file(dir: string, name: string, size: number) {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes, size, sha256: createHash("sha256").update(bytes).digest("hex") };
}

describe("draft releases against GitHub's OpenAPI description (local server)", () => {
  const fixture = useGitHubRepo();

  function setup() {
    const f = fixture();
    const draft = {
      owner: f.owner,
      repo: f.repo,
      tag: "v1.2.0",
      name: "pte-farm v1.2.0",
      body: "| cell | file |",
      targetCommitish: "ce587453ced02b1526dfb4cb910479d431683101",
      logger: f.logger,
      settleMs: 0,
    };
    return { ...f, draft };
  }

  it("creates a draft for the tag, and a rerun reuses it (updating its notes) instead of adding one", async () => {
    const { gh, releases, draft } = setup();

    const first = await ensureDraftRelease(gh, draft);
    const same = await ensureDraftRelease(gh, draft);
    const changed = await ensureDraftRelease(gh, { ...draft, body: "| cell | file |\n| a | b |" });

    expect(first.action).toBe("created");
    expect(first.release).toMatchObject({ draft: true, tag_name: "v1.2.0", published_at: null });
    expect(same).toMatchObject({ action: "unchanged", release: { id: first.release.id } });
    expect(changed).toMatchObject({ action: "updated", release: { id: first.release.id } });
    expect(releases.releases).toHaveLength(1);
    expect(releases.releases[0]?.body).toBe("| cell | file |\n| a | b |");
  });

  it("finds a draft by listing (get-release-by-tag does not see drafts) past the first page", async () => {
    const { gh, releases, owner, repo } = setup();
    const draft = releases.addRelease({ tag: "v0.9.0", draft: true });
    for (let i = 0; i < 120; i++) releases.addRelease({ tag: `v0.0.${i}` });

    const found = await findReleaseByTag(gh, { owner, repo, tag: "v0.9.0" });
    const byTag = await gh.rest.repos.getReleaseByTag({ owner, repo, tag: "v0.9.0" }).catch((e) => e.status);

    expect(found?.id).toBe(draft.id);
    expect(byTag).toBe(404);
    expect(await findReleaseByTag(gh, { owner, repo, tag: "v9.9.9" })).toBeNull();
  });

  it("refuses a tag that already has a published release and leaves it untouched", async () => {
    const { gh, server, releases, draft } = setup();
    const published = releases.addRelease({ tag: draft.tag, body: "shipped notes" });

    const attempt = ensureDraftRelease(gh, draft);

    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toThrow(/v1\.2\.0 .* already has a published release .*never changes/);
    expect(published.body).toBe("shipped notes");
    expect(server.requestsFor("repos/create-release")).toHaveLength(0);
    expect(server.requestsFor("repos/update-release")).toHaveLength(0);
  });

  it("a create answered 502 after GitHub stored it leaves exactly one draft", async () => {
    const { gh, server, releases, draft } = setup();
    server.inject("repos/create-release", { ...errorReply(502, "Server Error"), afterCommit: true });

    const result = await ensureDraftRelease(gh, draft);

    expect(result.action).toBe("created");
    expect(releases.releases.map((r) => r.id)).toEqual([result.release.id]);
    expect(server.requestsFor("repos/create-release")).toHaveLength(1);
  });

  it("publishing flips the draft and sets published_at; publishing again changes nothing", async () => {
    const { gh, server, draft, owner, repo, logger } = setup();
    const { release } = await ensureDraftRelease(gh, draft);

    const published = await publishRelease(gh, {
      owner,
      repo,
      release,
      makeLatest: true,
      logger,
      settleMs: 0,
    });
    const again = await publishRelease(gh, { owner, repo, release: published, logger, settleMs: 0 });

    expect(published).toMatchObject({ id: release.id, draft: false });
    expect(published.published_at).toEqual(expect.any(String));
    expect(again).toBe(published);
    expect(server.requestsFor("repos/update-release")).toHaveLength(1);
    expect((await gh.rest.repos.getReleaseByTag({ owner, repo, tag: draft.tag })).data.id).toBe(release.id);
  });

  it("refuses to publish when another release of the tag was published meanwhile", async () => {
    const { gh, releases, draft, owner, repo, logger } = setup();
    const { release } = await ensureDraftRelease(gh, draft);
    releases.addRelease({ tag: draft.tag });

    const attempt = publishRelease(gh, { owner, repo, release, logger, settleMs: 0 });

    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toThrow(/already has a published release/);
    expect(releases.releases.find((r) => r.id === release.id)?.draft).toBe(true);
  });
});

describe("release assets against GitHub's OpenAPI description (local server, uploads included)", () => {
  const fixture = useGitHubRepo();

  async function setup(size = 3 * MB) {
    const f = fixture();
    const seeded = f.releases.addRelease({ tag: "v1.0.0", draft: true });
    const release = await findReleaseByTag(f.gh, { owner: f.owner, repo: f.repo, tag: "v1.0.0" });
    if (release?.id !== seeded.id) throw new Error("test bug: the seeded draft is not found");
    const dir = await tempDir("releases-");
    const pte = file(dir, "model.pte", size);
    const upload = {
      owner: f.owner,
      repo: f.repo,
      release,
      path: pte.path,
      name: "mv2--xnnpack-fp32--xnnpack--pi5--et-1.4.1.pte",
      size: pte.size,
      sha256: pte.sha256,
      logger: f.logger,
      settleMs: 0,
    };
    const stored = () => f.releases.assetsOf(release.id);
    return { ...f, release, dir, pte, upload, stored };
  }

  it("streams the file up with its Content-Length and returns the asset once GitHub's digest verifies", async () => {
    const { gh, server, pte, upload, stored } = await setup();

    const asset = await uploadReleaseAsset(gh, upload);

    expect(asset).toMatchObject({ name: upload.name, size: pte.size, state: "uploaded" });
    expect(asset.digest).toBe(`sha256:${pte.sha256}`);
    expect(stored()).toHaveLength(1);
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
    // Verified from the digest alone: no download.
    expect(server.requests.filter((r) => r.path.startsWith(OBJECTS_PREFIX))).toHaveLength(0);
  });

  it("reuses an asset that is already there and verifies (a rerun uploads nothing)", async () => {
    const { gh, server, upload } = await setup();
    await uploadReleaseAsset(gh, upload);

    const again = await uploadReleaseAsset(gh, upload);

    expect(again.name).toBe(upload.name);
    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(1);
    expect(server.requestsFor("repos/delete-release-asset")).toHaveLength(0);
  });

  it("with digest: null (older GitHub) verifies by downloading and hashing through the 302", async () => {
    const { gh, server, releases, pte, upload, stored } = await setup();
    releases.options.digests = false;

    const asset = await uploadReleaseAsset(gh, upload);

    expect(asset.digest).toBeNull();
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
    expect(server.requests.filter((r) => r.path.startsWith(OBJECTS_PREFIX))).toHaveLength(1);
  });

  it("an upload cut off mid-body leaves an 'open' partial asset, which is deleted and the upload retried", async () => {
    const { gh, server, releases, pte, upload, stored, logger } = await setup();
    releases.interruptUploads(server, MB);

    const asset = await uploadReleaseAsset(gh, upload);

    const cut = server.requestsFor("repos/upload-release-asset")[0];
    expect(cut?.fault).toBe(true);
    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(2);
    expect(server.requestsFor("repos/delete-release-asset")).toHaveLength(1);
    expect(logger.text()).toMatch(/no answer: .*\n.*deleting .* its state is "open"/);
    expect(releases.deleted).toMatchObject([{ state: "open", digest: null }]);
    expect(releases.deleted[0]?.bytes.equals(pte.bytes.subarray(0, MB))).toBe(true);
    expect(stored()).toHaveLength(1);
    expect(stored()[0]).toMatchObject({ id: asset.id, state: "uploaded" });
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
  });

  it("a partial asset left by an earlier run is deleted before uploading (else GitHub answers already_exists)", async () => {
    const { gh, releases, release, pte, upload, stored } = await setup();
    releases.addAsset(release, upload.name, pte.bytes.subarray(0, 1000), "open");

    await uploadReleaseAsset(gh, upload);

    expect(stored()).toHaveLength(1);
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
  });

  it("an upload GitHub stored but answered 502 counts as done: no second upload, no duplicate", async () => {
    const { gh, server, pte, upload, stored } = await setup();
    server.inject("repos/upload-release-asset", { ...errorReply(502, "Server Error"), afterCommit: true });

    const asset = await uploadReleaseAsset(gh, upload);

    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(1);
    expect(stored().map((a) => a.id)).toEqual([asset.id]);
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
  });

  it("an asset GitHub stored wrongly is caught by its digest, deleted and uploaded again", async () => {
    const { gh, server, releases, pte, upload, stored } = await setup();
    releases.corruptUploads(1);

    await uploadReleaseAsset(gh, upload);

    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(2);
    expect(stored()).toHaveLength(1);
    expect(stored()[0]?.bytes.equals(pte.bytes)).toBe(true);
  });

  it("when every upload is stored wrongly the mismatch surfaces, naming the asset, and no bad copy is left", async () => {
    const { gh, releases, pte, upload, stored } = await setup();
    releases.corruptUploads(3);

    const attempt = uploadReleaseAsset(gh, upload);

    await expect(attempt).rejects.toBeInstanceOf(ReleaseAssetMismatchError);
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `${upload.name} .* does not verify: GitHub's digest is sha256 [0-9a-f]{64}, expected ${pte.sha256}`,
      ),
    );
    expect(stored()).toHaveLength(0);
  });

  it("verification with a null digest catches corrupted bytes by downloading them", async () => {
    const { gh, releases, release, pte, owner, repo } = await setup(MB);
    releases.options.digests = false;
    const bad = Buffer.from(pte.bytes);
    bad[10] = (bad[10] ?? 0) ^ 1;
    const stored = releases.addAsset(release, "model.pte", bad);
    const [asset] = await listReleaseAssets(gh, { owner, repo, releaseId: release.id });
    if (asset === undefined) throw new Error("no asset listed");

    const attempt = verifyReleaseAsset(gh, { owner, repo, asset, size: pte.size, sha256: pte.sha256 });

    await expect(attempt).rejects.toThrow(
      new RegExp(
        `model\\.pte \\(id ${stored.id}\\) does not verify: the downloaded bytes hash to sha256 [0-9a-f]{64}, expected ${pte.sha256}`,
      ),
    );
  });

  it("a file over the store's size limit is refused with what to fix, without retrying", async () => {
    const { gh, server, releases, upload, stored } = await setup(MB);
    releases.options.maxAssetBytes = MB - 1;

    const attempt = uploadReleaseAsset(gh, upload);

    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toThrow(
      /HTTP 422: Validation Failed.*smaller than 2147483648 bytes \(2 GiB\).*split/,
    );
    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(1);
    expect(stored()).toHaveLength(0);
  });

  it("refuses to upload a file whose size is not the one promised", async () => {
    const { gh, server, upload } = await setup(MB);

    await expect(uploadReleaseAsset(gh, { ...upload, size: MB + 1 })).rejects.toThrow(
      /has 1048576 bytes, but 1048577 were expected/,
    );
    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(0);
  });

  it("uploads to the release's upload_url origin when no baseUrl is given", async () => {
    const { gh, server, upload } = await setup(MB);
    expect(new URL(upload.release.upload_url).origin).toBe(server.url);

    await uploadReleaseAsset(gh, upload);

    expect(server.requestsFor("repos/upload-release-asset")).toHaveLength(1);
  });

  it("downloads a multi-MB asset byte for byte through the 302 to the object store", async () => {
    const { gh, server, releases, release, dir, owner, repo } = await setup(MB);
    const big = file(dir, "big.bin", 8 * MB + 123);
    const asset = releases.addAsset(release, "big.pte", big.bytes);
    const dest = join(dir, "fetched.pte");

    const got = await downloadReleaseAsset(gh, {
      owner,
      repo,
      assetId: asset.id,
      dest,
      expect: { size: big.size, sha256: big.sha256 },
    });

    expect(got).toEqual({ bytes: big.size, sha256: big.sha256 });
    expect(readFileSync(dest).equals(big.bytes)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
    expect(server.requestsFor("repos/get-release-asset").map((r) => r.status)).toEqual([302]);
  });

  it("a download that does not match what is expected is refused and leaves no file behind", async () => {
    const { gh, releases, release, dir, pte, owner, repo } = await setup(MB);
    const asset = releases.addAsset(release, "model.pte", Buffer.concat([pte.bytes, Buffer.from("x")]));
    const dest = join(dir, "fetched.pte");

    const attempt = downloadReleaseAsset(gh, {
      owner,
      repo,
      assetId: asset.id,
      dest,
      expect: { size: pte.size, sha256: pte.sha256, name: "model.pte" },
    });

    await expect(attempt).rejects.toBeInstanceOf(InfrastructureError);
    await expect(attempt).rejects.toThrow(/model\.pte .* does not verify: downloaded 1048577 bytes/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it("a download that breaks off mid-file fails clearly and leaves neither the file nor a partial", async () => {
    const { gh, releases, release, dir, pte, owner, repo } = await setup(2 * MB);
    const asset = releases.addAsset(release, "model.pte", pte.bytes);
    releases.cutDownloads(MB);
    const dest = join(dir, "fetched.pte");

    const attempt = downloadReleaseAsset(gh, { owner, repo, assetId: asset.id, dest });

    await expect(attempt).rejects.toBeInstanceOf(InfrastructureError);
    await expect(attempt).rejects.toThrow(/download of release asset \d+ of octo-org\/pte-farm broke off/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it("the local uploads host refuses a chunked upload without Content-Length, as uploads.github.com does", async () => {
    const { server, release, pte } = await setup(MB);
    const url = `${server.url}/repos/octo-org/pte-farm/releases/${release.id}/assets?name=chunked.pte`;

    const res = await fetch(url, {
      method: "POST",
      body: Readable.from([pte.bytes]),
      duplex: "half",
      headers: { "content-type": "application/octet-stream" },
    } as RequestInit);

    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/Content-Length/);
  });
});
