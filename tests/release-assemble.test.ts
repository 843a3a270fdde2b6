/**
 * Preparing and verifying a release from real artefacts: the real stages build and execute the
 * fp32/portable tiny model once (through the stage actions under @github/local-action, gate role
 * `release`), and every test works on copies of that download. Blocked releases are made by
 * editing copies of the real run record the way a failed device job would have written it.
 */
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import { sha256File } from "../actions/src/core/hashing.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { type PlannedCell, prepareRelease } from "../actions/src/release/assemble.ts";
import { ReleaseBlockedError, VerificationError } from "../actions/src/release/errors.ts";
import { formatSums, parseSums } from "../actions/src/release/sums.ts";
import { assetsForCell, verifyCell } from "../actions/src/release/verify.ts";
import { releaseManifest } from "../actions/src/schemas/release-manifest.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, pinnedVersion, tempDir } from "./helpers/env.ts";
import {
  buildReleaseArtifacts,
  RELEASE_CELL,
  RELEASE_SHA,
  type ReleaseArtifacts,
  writeRecord,
} from "./helpers/release-build.ts";
import { filesUnder, smallFs, unmountSmallFs } from "./helpers/small-fs.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready
  ? ""
  : " [SKIPPED here: needs .venv (make setup), stages/pte_stages/*.py and stages/models/tiny-llama]";
const SLUG = "tiny-llama--fp32--portable--host-x86_64--stable";

describe.skipIf(!ready)("prepare and verify a release, real build and device artefacts", () => {
  let root: string;
  let real: ReleaseArtifacts;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pte-farm-release-"));
    real = await buildReleaseArtifacts(root);
  }, 900_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await unmountSmallFs();
  });

  async function download(): Promise<string> {
    const dir = path.join(await tempDir(), "download");
    await cp(real.artifacts, dir, { recursive: true });
    return dir;
  }

  function options(artifacts: string, out: string, cells: PlannedCell[], partLimit?: number) {
    return {
      artifacts,
      cells,
      tag: "v1.0.0",
      gitSha: RELEASE_SHA,
      repository: "octo/farm",
      workflowRun: { id: 42, url: "https://github.com/octo/farm/actions/runs/42" },
      out,
      createdAt: "2026-11-23T10:00:00Z",
      logger: new RecordingLogger(),
      ...(partLimit === undefined ? {} : { partLimit }),
    };
  }

  const only = (): PlannedCell[] => [{ cell: RELEASE_CELL, build: real.build }];

  it(`the gate action records which .pte the device executed (its manifest's sha256 and size)${why}`, async () => {
    const manifest = JSON.parse(await readFile(path.join(path.dirname(real.pte), "manifest.json"), "utf8"));
    expect(real.record.role).toBe("release");
    expect(real.record.pte).toEqual({ sha256: manifest.pte.sha256, bytes: manifest.pte.bytes });
    expect(await sha256File(real.pte)).toBe(manifest.pte.sha256);
  });

  it(`prepares exactly the assets to upload: the build's .pte, manifest.json and a SHA256SUMS that coreutils accepts${why}`, async () => {
    const out = path.join(await tempDir(), "staging");
    const prepared = await prepareRelease(options(await download(), out, only()));
    expect(prepared.assets).toEqual(["SHA256SUMS", "manifest.json", `${SLUG}.pte`]);
    expect((await readdir(out)).sort()).toEqual([...prepared.assets, "release-notes.md"].sort());
    expect(await sha256File(path.join(out, `${SLUG}.pte`))).toBe(await sha256File(real.pte));

    const check = await execa("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: out, reject: false });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toBe(`manifest.json: OK\n${SLUG}.pte: OK`);

    const m = parseJson(
      releaseManifest,
      await readFile(path.join(out, "manifest.json"), "utf8"),
      "manifest.json",
    );
    expect(m).toMatchObject({
      schema: "pte-farm/release@1",
      tag: "v1.0.0",
      git_sha: RELEASE_SHA,
      repository: "octo/farm",
      workflow_run: { id: 42 },
      part_limit_bytes: 2 ** 31,
    });
    const [cell] = m.cells;
    expect(cell?.cell.id).toBe(RELEASE_CELL);
    expect(cell?.file).toMatchObject({ name: `${SLUG}.pte`, sha256: real.record.pte?.sha256, parts: null });
    expect(cell?.toolchain.build.executorch).toBe(pinnedVersion("executorch"));
    expect(cell?.toolchain.device).toEqual(real.record.toolchain.device);
    expect(cell?.gate.verdict).toBe("pass");
    expect(cell?.run).toMatchObject({ session: "release-test", git_sha: RELEASE_SHA });
    const decode = cell?.bench.decode_tokens_per_sec;
    expect(decode).toMatchObject({ unit: "tok/s", better: "higher", n: 6, confidence: 0.95 });
    const samples = real.record.metrics.decode_tokens_per_sec?.samples ?? [];
    expect(decode?.ci).toEqual([Math.min(...samples), Math.max(...samples)]);
    expect(Object.keys(cell?.bench ?? {}).sort()).toEqual(Object.keys(real.record.metrics).sort());
    const notes = await readFile(prepared.notes, "utf8");
    expect(notes).toContain(`| \`${RELEASE_CELL}\` | \`${SLUG}.pte\` (`);
    expect(notes).toContain("pte-farm fetch v1.0.0 tiny-llama/fp32/portable/host-x86_64@stable");
  });

  it(`a .pte over the part limit is uploaded as parts, and fetch reassembles it byte for byte${why}`, async () => {
    const bytes = (await stat(real.pte)).size;
    const limit = Math.ceil(bytes / 3) + 1;
    const out = path.join(await tempDir(), "staging");
    const prepared = await prepareRelease(options(await download(), out, only(), limit));
    const parts = prepared.manifest.cells[0]?.file.parts ?? [];
    expect(parts.map((p) => p.name)).toEqual([1, 2, 3].map((i) => `${SLUG}.pte.part-${i}-of-3`));
    expect(prepared.assets).toEqual(["SHA256SUMS", "manifest.json", ...parts.map((p) => p.name)]);
    for (const p of parts) expect(p.bytes).toBeLessThan(limit);
    const check = await execa("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: out, reject: false });
    expect(check.exitCode, check.stdout).toBe(0);

    expect(assetsForCell(prepared.manifest, "tiny-llama/*/portable/host-*@stable")).toEqual(
      parts.map((p) => p.name),
    );
    const fetched = path.join(await tempDir(), "fetched");
    const verified = await verifyCell(out, "tiny-llama/fp32/*/host-x86_64@*", fetched);
    expect(Buffer.compare(await readFile(verified.pte), await readFile(real.pte))).toBe(0);
    expect((await readdir(fetched)).sort()).toEqual([`${SLUG}.manifest.json`, `${SLUG}.pte`]);
    const sidecar = JSON.parse(await readFile(verified.manifest, "utf8"));
    expect(sidecar).toMatchObject({
      release: { tag: "v1.0.0", repository: "octo/farm" },
      cell: { id: RELEASE_CELL },
    });
  });

  // @fault disk-full | release staging into a 512 KiB tmpfs, smaller than the .pte | infrastructure error naming the folder, the space needed and free; nothing left on the file system
  it(`staging on a full disk is infrastructure naming the folder and the space, and leaves nothing behind${why}`, async () => {
    const fs = await smallFs(512);
    const err = await prepareRelease(options(await download(), path.join(fs, "staging"), only())).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InfrastructureError);
    const bytes = (await stat(real.pte)).size;
    expect((err as Error).message).toMatch(
      new RegExp(
        `^no space left on device writing ${fs}: it needs \\S+ [KMG]iB, the file system has \\S+ [KMG]?i?B free`,
      ),
    );
    expect(bytes).toBeGreaterThan(512 * 1024);
    expect(await filesUnder(fs)).toEqual([]);
  });

  it(`a blocked release names every failing cell with why, and writes no staging folder${why}`, async () => {
    const dl = await download();
    const base = real.record;
    const variant = (device: string, edit: (r: RunRecord) => void): RunRecord => {
      const r = structuredClone(base);
      r.cell = { ...r.cell, device, id: `tiny-llama/fp32/portable/${device}@stable` };
      edit(r);
      return r;
    };
    const divergent = variant("gate-fails", (r) => {
      r.status = "fail";
      r.gate = {
        ...(base.gate as NonNullable<RunRecord["gate"]>),
        verdict: "fail",
        first_divergence: {
          reference: "fp32",
          prompt_index: 0,
          position: 3,
          expected_id: 311,
          expected_text: " Paris",
          actual_id: 412,
          actual_text: " Rome",
        },
      };
    });
    const crashed = variant("execute-fails", (r) => {
      r.status = "fail";
      r.gate = null;
      r.failure = {
        stage: "execute",
        outcome: "stage-failure",
        message: "RuntimeError: Missing out variants: {'aten::_local_scalar_dense'}",
        known_issue: null,
        triage: "",
        reproduce: "",
      };
    });
    const other = variant("other-pte", (r) => {
      r.pte = { sha256: "f".repeat(64), bytes: base.pte?.bytes ?? 0 };
    });
    const oldCommit = variant("old-commit", (r) => {
      r.git_sha = "a".repeat(40);
    });
    for (const r of [divergent, crashed, other, oldCommit]) await writeRecord(dl, `x-${r.cell.device}`, r);
    // A nightly record of a planned cell is not a release record.
    await writeRecord(dl, "x-nightly-only", { ...variant("nightly-only", () => {}), role: "nightly" });
    // A build whose model.pte is not the file its manifest describes.
    await cp(path.join(dl, `build-${real.build}`), path.join(dl, "build-tampered"), { recursive: true });
    const tamperedPte = path.join(dl, "build-tampered", "build", "model.pte");
    const bytes = await readFile(tamperedPte);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(tamperedPte, bytes);
    await writeRecord(
      dl,
      "x-tampered",
      variant("tampered-build", () => {}),
    );

    const planned: PlannedCell[] = [
      { cell: RELEASE_CELL, build: real.build },
      ...["gate-fails", "execute-fails", "other-pte", "old-commit", "nightly-only", "never-ran"].map((d) => ({
        cell: `tiny-llama/fp32/portable/${d}@stable`,
        build: real.build,
      })),
      { cell: "tiny-llama/fp32/portable/tampered-build@stable", build: "tampered" },
    ];
    const parent = await tempDir();
    const out = path.join(parent, "staging");
    const err = await prepareRelease(options(dl, out, planned)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReleaseBlockedError);
    const blocked = (err as ReleaseBlockedError).blocked;
    expect((err as ReleaseBlockedError).exitCode).toBe(1);
    const reason = (device: string) =>
      blocked.find((b) => b.cell === `tiny-llama/fp32/portable/${device}@stable`)?.reason;
    expect(blocked).toHaveLength(7);
    expect(reason("gate-fails")).toBe(
      'gate failed: prompt 0, token 3: expected 311 " Paris", got 412 " Rome" (vs fp32 reference)',
    );
    expect(reason("execute-fails")).toBe(
      "status fail at stage execute: RuntimeError: Missing out variants: {'aten::_local_scalar_dense'}",
    );
    expect(reason("other-pte")).toMatch(
      /^the device measured a different \.pte \(sha256 f{64}\) than the build's/,
    );
    expect(reason("old-commit")).toBe(`measured commit ${"a".repeat(40)}, not the release's ${RELEASE_SHA}`);
    for (const d of ["nightly-only", "never-ran"]) {
      expect(reason(d)).toBe(
        "no run record with role release (infrastructure: the device job did not report)",
      );
    }
    expect(reason("tampered-build")).toMatch(
      /^build-tampered\/build\/model\.pte is not the file its manifest describes \(sha256 [0-9a-f]{64}/,
    );
    expect((err as Error).message).toMatch(/^release blocked: 7 cells may not be published\n- /);
    expect(await readdir(parent)).toEqual([]);
  });

  it(`a planned cell whose build artefact is missing is blocked; so is a second release record, and an invalid record file${why}`, async () => {
    const dl = await download();
    await writeRecord(dl, "again", real.record);
    await writeRecord(dl, "broken", {
      ...real.record,
      cell: { ...real.record.cell, id: 7 },
    } as unknown as RunRecord);
    const cells = [
      { cell: RELEASE_CELL, build: real.build },
      { cell: "tiny-llama/fp32/portable/elsewhere@stable", build: "never-built" },
    ];
    const err = (await prepareRelease(options(dl, path.join(await tempDir(), "s"), cells)).catch(
      (e: unknown) => e,
    )) as ReleaseBlockedError;
    expect(err.blocked.map((b) => b.reason)).toEqual([
      "invalid run record: release-broken/broken/run.json: cell.id: expected a string, got 7",
      expect.stringMatching(
        /^2 release records \(release-again\/again\/run\.json, release-.*\); expected exactly one$/,
      ),
      "build-never-built/build/manifest.json is missing (the build failed, or its artefact was not downloaded); no run record with role release (infrastructure: the device job did not report)",
    ]);
  });

  describe("fetch refuses what does not verify, and leaves nothing in the output folder", () => {
    async function staged(partLimit?: number): Promise<string> {
      const out = path.join(await tempDir(), "staging");
      await prepareRelease(options(await download(), out, only(), partLimit));
      return out;
    }
    async function refused(dir: string, message: string | RegExp): Promise<void> {
      const fetched = path.join(await tempDir(), "fetched");
      const err = await verifyCell(dir, RELEASE_CELL, fetched).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toMatch(/; do not use this file$/);
      expect(await readdir(fetched)).toEqual([]);
    }
    const flip = async (file: string) => {
      const b = await readFile(file);
      b[b.length >> 1] = (b[b.length >> 1] ?? 0) ^ 1;
      await writeFile(file, b);
    };

    it(`a tampered .pte: names the file, expected and found sha256${why}`, async () => {
      const dir = await staged();
      const want = (await sha256File(path.join(dir, `${SLUG}.pte`))) as string;
      await flip(path.join(dir, `${SLUG}.pte`));
      await refused(dir, new RegExp(`^${SLUG}\\.pte: expected sha256 ${want}, found [0-9a-f]{64}`));
    });

    it(`a tampered manifest.json: its hash is not SHA256SUMS'${why}`, async () => {
      const dir = await staged();
      const file = path.join(dir, "manifest.json");
      await writeFile(file, (await readFile(file, "utf8")).replace('"v1.0.0"', '"v1.0.1"'));
      await refused(
        dir,
        /^manifest\.json: expected sha256 [0-9a-f]{64} \(from SHA256SUMS\), found [0-9a-f]{64}/,
      );
    });

    it(`a missing part${why}`, async () => {
      const dir = await staged(Math.ceil((await stat(real.pte)).size / 3) + 1);
      await rm(path.join(dir, `${SLUG}.pte.part-2-of-3`));
      await refused(dir, `${SLUG}.pte.part-2-of-3: missing`);
    });

    it(`a corrupted part (consistent size)${why}`, async () => {
      const dir = await staged(Math.ceil((await stat(real.pte)).size / 3) + 1);
      await flip(path.join(dir, `${SLUG}.pte.part-3-of-3`));
      await refused(dir, new RegExp(`^${SLUG}\\.pte\\.part-3-of-3: expected sha256 [0-9a-f]{64}, found`));
    });

    it(`a SHA256SUMS line that disagrees with manifest.json${why}`, async () => {
      const dir = await staged();
      const file = path.join(dir, "SHA256SUMS");
      const sums = parseSums(await readFile(file, "utf8"));
      sums.set(`${SLUG}.pte`, "0".repeat(64));
      await writeFile(file, formatSums([...sums].map(([name, sha256]) => ({ name, sha256 }))));
      await refused(dir, new RegExp(`^${SLUG}\\.pte: SHA256SUMS says sha256 0{64}, manifest\\.json says`));
    });

    it(`a malformed SHA256SUMS, and one without the manifest's line${why}`, async () => {
      const dir = await staged();
      const file = path.join(dir, "SHA256SUMS");
      const text = await readFile(file, "utf8");
      await writeFile(file, `${text}not a checksum line\n`);
      await refused(dir, /^SHA256SUMS: SHA256SUMS:3: expected "<64 lowercase hex sha256> {2}<file name>"/);
      await writeFile(
        file,
        text
          .split("\n")
          .filter((l) => !l.endsWith("manifest.json"))
          .join("\n"),
      );
      await refused(dir, "SHA256SUMS: has no line for manifest.json");
    });

    it(`a cell the release does not have, or a glob matching several, is the user's to fix${why}`, async () => {
      const dir = await staged();
      const fetched = path.join(await tempDir(), "fetched");
      await expect(verifyCell(dir, "tiny-llama/*/*/pi5@*", fetched)).rejects.toThrow(ConfigurationError);
      await expect(verifyCell(dir, "tiny-llama/*/*/pi5@*", fetched)).rejects.toThrow(
        `release v1.0.0 has no cell matching "tiny-llama/*/*/pi5@*"; its cells: ${RELEASE_CELL}`,
      );
      await expect(verifyCell(dir, RELEASE_CELL, dir)).rejects.toThrow("is the download folder");
    });
  });
});
