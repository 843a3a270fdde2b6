/**
 * A release end to end against GitHub's OpenAPI description (the local server, uploads and the
 * object-store redirect of downloads included): the release action's prepare and publish modes
 * run under @github/local-action on real build and device artefacts (the real stages, role
 * release), and `pte-farm fetch` runs as the CLI process a user would start. The five cases the
 * issue names: a normal release, an interrupted upload, a hash mismatch, a file over the per-asset
 * limit, and a failed gate. farm-release.yml itself runs under act in act-farm-release.test.ts.
 */
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, tempDir } from "./helpers/env.ts";
import { type GitHubRepoFixture, useGitHubRepo } from "./helpers/github-fixture.ts";
import { runLocalAction } from "./helpers/local-action.ts";
import {
  buildReleaseArtifacts,
  RELEASE_CELL,
  RELEASE_SHA,
  type ReleaseArtifacts,
} from "./helpers/release-build.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready
  ? ""
  : " [SKIPPED here: needs .venv (make setup), stages/pte_stages/*.py and stages/models/tiny-llama]";
const TAG = "v1.0.0";
const SLUG = "tiny-llama--fp32--portable--host-x86_64--stable";
const NODE = process.execPath;

describe.skipIf(!ready)(
  "a release against GitHub's OpenAPI description (local server, uploads included)",
  () => {
    const fixture = useGitHubRepo();
    let root: string;
    let real: ReleaseArtifacts;
    let builtPte: Buffer;

    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), "pte-farm-release-action-"));
      real = await buildReleaseArtifacts(root);
      builtPte = await readFile(real.pte);
    }, 900_000);
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    /** The environment GitHub's runner gives a job of farm-release on tag TAG. */
    function runnerEnv(f: GitHubRepoFixture): Record<string, string> {
      return {
        GITHUB_REPOSITORY: `${f.owner}/${f.repo}`,
        GITHUB_SHA: RELEASE_SHA,
        GITHUB_REF: `refs/tags/${TAG}`,
        GITHUB_API_URL: f.server.url,
        GITHUB_SERVER_URL: "https://github.com",
        GITHUB_RUN_ID: "7700",
      };
    }

    async function download(edit?: (r: RunRecord) => void): Promise<string> {
      const dir = path.join(await tempDir(), "artifacts");
      await cp(real.artifacts, dir, { recursive: true });
      if (edit !== undefined) {
        const key = `${real.build}-${real.record.cell.device}`;
        const file = path.join(dir, `release-${key}`, key, "run.json");
        const record = JSON.parse(await readFile(file, "utf8")) as RunRecord;
        edit(record);
        await writeFile(file, JSON.stringify(record));
      }
      return dir;
    }

    const devices = () =>
      JSON.stringify({ include: [{ cell: RELEASE_CELL, build: real.build, device: "host-x86_64" }] });

    async function prepare(f: GitHubRepoFixture, artifacts: string, partLimit?: number) {
      const staging = path.join(await tempDir(), "release");
      const run = await runLocalAction(
        "release",
        {
          mode: "prepare",
          artifacts,
          devices: devices(),
          staging,
          ...(partLimit === undefined ? {} : { "part-limit": String(partLimit) }),
        },
        runnerEnv(f),
      );
      return { run, staging };
    }

    async function publish(f: GitHubRepoFixture, staging: string, extra: Record<string, string> = {}) {
      return runLocalAction(
        "release",
        { mode: "publish", "github-token": "ghs_local-test-token", staging, ...extra },
        runnerEnv(f),
      );
    }

    /** `pte-farm fetch` as a user runs it: the CLI process, pointed at the local server. */
    async function fetchCli(f: GitHubRepoFixture, out: string, cell = RELEASE_CELL) {
      return execa(
        NODE,
        ["actions/src/cli/pte-farm.ts", "fetch", TAG, cell, "--repo", `${f.owner}/${f.repo}`, "--out", out],
        {
          cwd: REPO_ROOT,
          reject: false,
          all: true,
          env: { GITHUB_API_URL: f.server.url, GITHUB_TOKEN: "ghs_local-test-token" },
        },
      );
    }

    it(`a normal release: prepare stages it, publish uploads, verifies and publishes, fetch gets the build's .pte byte for byte${why}`, async () => {
      const f = fixture();
      const prepared = await prepare(f, await download());
      expect(prepared.run.errors).toEqual([]);
      expect(prepared.run.exitCode).toBe(0);
      expect(prepared.run.outputs.cells).toBe("1");
      const subjects = await readFile(prepared.run.outputs.checksums as string, "utf8");
      expect(
        subjects
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split("  ")[1]),
      ).toEqual([`${SLUG}.pte`, "manifest.json", "SHA256SUMS"].sort());

      const published = await publish(f, prepared.staging);
      expect(published.errors).toEqual([]);
      expect(published.exitCode).toBe(0);

      expect(f.releases.releases).toHaveLength(1);
      const release = f.releases.releases[0];
      expect(release).toMatchObject({ tag_name: TAG, draft: false, target_commitish: RELEASE_SHA });
      expect(release?.published_at).not.toBeNull();
      expect(release?.body).toContain(RELEASE_CELL);
      expect(published.outputs["release-id"]).toBe(String(release?.id));
      const assets = f.releases.assetsOf(release?.id ?? -1);
      expect(assets.map((a) => a.name).sort()).toEqual(["SHA256SUMS", "manifest.json", `${SLUG}.pte`]);
      expect(assets.every((a) => a.state === "uploaded")).toBe(true);
      expect(assets.find((a) => a.name === `${SLUG}.pte`)?.bytes.equals(builtPte)).toBe(true);
      const manifest = JSON.parse(assets.find((a) => a.name === "manifest.json")?.bytes.toString() ?? "{}");
      expect(manifest).toMatchObject({
        schema: "pte-farm/release@1",
        tag: TAG,
        git_sha: RELEASE_SHA,
        cells: [
          {
            cell: { id: RELEASE_CELL },
            gate: { verdict: "pass" },
            file: { bytes: builtPte.length, parts: null },
          },
        ],
      });
      expect(manifest.cells[0].bench.decode_tokens_per_sec).toMatchObject({
        n: 6,
        ci: [expect.any(Number), expect.any(Number)],
      });

      const out = await tempDir();
      const fetched = await fetchCli(f, out);
      expect(fetched.exitCode, fetched.all).toBe(0);
      expect(fetched.all).toContain(`verified ${RELEASE_CELL}`);
      expect((await readFile(path.join(out, `${SLUG}.pte`))).equals(builtPte)).toBe(true);
      const sidecar = JSON.parse(await readFile(path.join(out, `${SLUG}.manifest.json`), "utf8"));
      expect(sidecar).toMatchObject({ release: { tag: TAG }, cell: { id: RELEASE_CELL } });
      expect((await readdir(out)).sort()).toEqual([`${SLUG}.manifest.json`, `${SLUG}.pte`]);
    }, 120_000);

    it(`an interrupted upload: the partial asset GitHub kept is deleted and the upload retried; then it publishes${why}`, async () => {
      const f = fixture();
      const prepared = await prepare(f, await download());
      expect(prepared.run.exitCode).toBe(0);
      f.releases.interruptUploads(f.server, 64 * 1024, 1);

      const published = await publish(f, prepared.staging);

      expect(published.errors).toEqual([]);
      expect(published.exitCode).toBe(0);
      expect(f.releases.deleted).toEqual([
        expect.objectContaining({ name: `${SLUG}.pte`, state: "open", digest: null }),
      ]);
      expect(f.releases.deleted[0]?.bytes.length).toBeLessThan(builtPte.length);
      const release = f.releases.releases[0];
      expect(release?.draft).toBe(false);
      const pte = f.releases.assetsOf(release?.id ?? -1).filter((a) => a.name === `${SLUG}.pte`);
      expect(pte).toHaveLength(1);
      expect(pte[0]?.bytes.equals(builtPte)).toBe(true);
    }, 120_000);

    it(`a hash mismatch is refused: an upload GitHub keeps storing wrongly is never published, and fetch refuses a swapped asset${why}`, async () => {
      const f = fixture();
      const prepared = await prepare(f, await download());
      // Every attempt (3) of the .pte's upload is stored with one byte flipped.
      f.releases.corruptUploads(3);

      const failed = await publish(f, prepared.staging);

      expect(failed.exitCode).toBe(3);
      expect(failed.errors.join("\n")).toMatch(new RegExp(`${SLUG}\\.pte.*sha256`));
      const release = f.releases.releases[0];
      expect(release?.draft).toBe(true);
      expect(f.releases.assetsOf(release?.id ?? -1).map((a) => a.name)).not.toContain(`${SLUG}.pte`);

      // Run again (GitHub behaves now): the draft is reused and published. Then the .pte is swapped
      // on the server, same size, as a compromised mirror or a bad disk would.
      const again = await publish(f, prepared.staging);
      expect(again.exitCode, again.stdout).toBe(0);
      expect(f.releases.releases).toHaveLength(1);
      const asset = f.releases.assets.find((a) => a.name === `${SLUG}.pte`);
      if (asset === undefined) throw new Error("the .pte was not uploaded");
      const swapped = Buffer.from(asset.bytes);
      swapped[100] = (swapped[100] ?? 0) ^ 0xff;
      asset.bytes = swapped;
      asset.digest = null;

      const out = await tempDir();
      const fetched = await fetchCli(f, out);
      expect(fetched.exitCode).toBe(3);
      expect(fetched.all).toMatch(/does not verify|do not use this file/);
      expect(await readdir(out)).toEqual([]);
    }, 180_000);

    it(`a file over the per-asset limit goes up as parts below it, and fetch reassembles it byte for byte${why}`, async () => {
      const f = fixture();
      const limit = 512 * 1024;
      f.releases.options.maxAssetBytes = limit - 1;
      const prepared = await prepare(f, await download(), limit);
      expect(prepared.run.exitCode, prepared.run.stdout).toBe(0);
      const count = Math.ceil(builtPte.length / (limit - 1));
      const subjects = await readFile(prepared.run.outputs.checksums as string, "utf8");
      // The attestation covers the whole file as well as every part.
      expect(subjects).toContain(`  ${SLUG}.pte\n`);

      const published = await publish(f, prepared.staging);
      expect(published.exitCode, published.stdout).toBe(0);

      const assets = f.releases.assetsOf(f.releases.releases[0]?.id ?? -1);
      const parts = assets
        .filter((a) => a.name.startsWith(`${SLUG}.pte.part-`))
        .sort((a, b) => a.name.localeCompare(b.name));
      expect(parts.length).toBeGreaterThanOrEqual(count);
      expect(assets.map((a) => a.name)).not.toContain(`${SLUG}.pte`);
      expect(parts.every((p) => p.bytes.length < limit)).toBe(true);
      expect(Buffer.concat(parts.map((p) => p.bytes)).equals(builtPte)).toBe(true);

      const out = await tempDir();
      const fetched = await fetchCli(f, out, "tiny-llama/*/*/host-x86_64@*");
      expect(fetched.exitCode, fetched.all).toBe(0);
      expect(fetched.all).toContain(`reassembled from ${parts.length} parts`);
      expect((await readFile(path.join(out, `${SLUG}.pte`))).equals(builtPte)).toBe(true);
    }, 120_000);

    it(`a failed gate blocks the release: prepare exits 1 naming the cell and its first divergence, and nothing reaches GitHub${why}`, async () => {
      const f = fixture();
      const artifacts = await download((r) => {
        if (r.gate === null) throw new Error("test bug: the real record has no gate");
        r.status = "fail";
        r.gate.verdict = "fail";
        r.gate.first_divergence = {
          reference: "fp32",
          prompt_index: 0,
          position: 3,
          expected_id: 42,
          expected_text: " the",
          actual_id: 17,
          actual_text: " a",
        };
      });
      const prepared = await prepare(f, artifacts);

      expect(prepared.run.exitCode).toBe(1);
      expect(prepared.run.errors.join("\n")).toContain("release blocked");
      expect(prepared.run.stdout).toContain(`${RELEASE_CELL}: gate failed`);
      expect(prepared.run.summary).toContain(`\`${RELEASE_CELL}\``);
      expect(existsSync(prepared.staging)).toBe(false);
      expect(prepared.run.outputs.checksums).toBeUndefined();
      expect(f.releases.releases).toEqual([]);
      expect(f.server.requests).toEqual([]);
    }, 120_000);

    it(`a part limit over GitHub's 2 GiB per-asset limit is bad input (exit 2), refused before anything is staged${why}`, async () => {
      const f = fixture();
      const prepared = await prepare(f, await download(), 3 * 1024 ** 3);

      expect(prepared.run.exitCode).toBe(2);
      expect(prepared.run.errors.join("\n")).toContain(
        "part-limit 3221225472 is over GitHub's per-asset limit (2147483648 bytes)",
      );
      expect(existsSync(prepared.staging)).toBe(false);
    }, 120_000);

    it(`publish refuses a staging folder that changed after prepare (what was attested is what goes up)${why}`, async () => {
      const f = fixture();
      const prepared = await prepare(f, await download());
      const pte = path.join(prepared.staging, `${SLUG}.pte`);
      const bytes = await readFile(pte);
      bytes[10] = (bytes[10] ?? 0) ^ 1;
      await writeFile(pte, bytes);

      const published = await publish(f, prepared.staging);

      expect(published.exitCode).toBe(3);
      expect(published.errors.join("\n")).toMatch(/changed after prepare/);
      expect(f.releases.releases).toEqual([]);
    }, 120_000);
  },
);
