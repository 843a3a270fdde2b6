/**
 * A full disk, for real: a tmpfs of a few hundred KiB mounted for the test (helpers/small-fs.ts).
 * A farm's own write that runs out of space is an infrastructure error naming the path and the
 * sizes, and leaves no half-written file; a stage whose output does not fit is an infrastructure
 * failure, never a stage failure or a regression. (Release staging: tests/release-assemble.test.ts.)
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfrastructureError } from "../actions/src/core/errors.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { hasRealPython, hasTinyLlama } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";
import { filesUnder as files, smallFs, unmountSmallFs } from "./helpers/small-fs.ts";

afterAll(unmountSmallFs);

describe("a history folder on a full disk", () => {
  // @fault disk-full | a history folder on a 256 KiB tmpfs, then a record too big for it | infrastructure error naming the path and the sizes; no temp file; every acknowledged record kept | records 20/20
  it("stops with an infrastructure error naming the path and the space, keeps every record it acknowledged, and leaves no temp file", async () => {
    const root = await smallFs(256);
    const store = new LocalFolderStore(root);
    // A record with a few hundred KiB of telemetry cannot fit next to the small ones.
    const small = Array.from({ length: 20 }, (_, i) => sampleRecord({ session: `s${i}` }));
    const acknowledged = await store.append(small);
    const big = sampleRecord({
      session: "big",
      telemetry: {
        samples: Array.from({ length: 4000 }, (_, i) => ({
          label: `sample-${i}-${"x".repeat(40)}`,
          at: "2026-11-23T05:00:00.000Z",
          thermal_c: { cpu: 50 + (i % 30) },
          cpu_mhz: { cpu0: 2400 },
        })),
      },
    });
    const err = await store.append([big]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect(String(err)).toMatch(
      /no space left on device writing .*big.*: it needs \d+(\.\d)? (KiB|MiB), the file system has \d+(\.\d)? (KiB|MiB) free/,
    );
    const left = await files(root);
    expect(left.filter((f) => path.basename(f).startsWith(".tmp-"))).toEqual([]);
    expect(left.filter((f) => f.includes("big"))).toEqual([]);
    expect((await store.list()).map((s) => s.path).sort()).toEqual([...acknowledged].sort());
  });
});

const ready = hasRealPython && hasTinyLlama;

describe.skipIf(!ready)("a stage whose output does not fit", () => {
  let cache: string;
  let out: string;
  beforeAll(async () => {
    cache = await smallFs(512);
    out = await mkdtemp(path.join(os.tmpdir(), "pte-farm-full-out-"));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  // @fault disk-full | the build cache on a 512 KiB tmpfs, too small for a real stage's output | exit 3: the cell is infra-error saying the disk is full; no cache entry from it
  it("is infrastructure (exit 3): the cell infra-error saying the disk is full, and no cache entry from it", async () => {
    const run = await execa(
      process.execPath,
      [
        path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
        "run",
        "--cells",
        "tiny-llama/fp32/portable/host-x86_64@stable",
        "--out",
        path.join(out, "run"),
        "--reps",
        "1",
        "--warmup",
        "0",
      ],
      { cwd: REPO_ROOT, reject: false, env: { PTE_FARM_CACHE: cache } },
    );
    expect(run.exitCode, run.stderr).toBe(3);
    const cellDir = path.join(out, "run", "cells", "tiny-llama", "fp32", "portable", "host-x86_64@stable");
    const record = parseJson(runRecord, await readFile(path.join(cellDir, "run.json"), "utf8"), "run.json");
    expect(record.status).toBe("infra-error");
    const failed = record.stages.find((s) => s.outcome !== "ok");
    expect(failed?.outcome).toBe("infra-failure");
    // torch's archive writer aborts (SIGABRT) on ENOSPC rather than raising: the farm still says why.
    expect(record.failure?.message ?? "").toMatch(/no space left on device: .* has \d+ KiB free/);
    const entries = await readdir(path.join(cache, "entries"), { recursive: true }).catch(
      () => [] as string[],
    );
    expect(entries.filter((e) => e.includes(failed?.stage ?? "?"))).toEqual([]);
  }, 600_000);

  it("a run whose output folder fills up ends as infrastructure (exit 3) saying so, not as an internal error", async () => {
    const full = await smallFs(8);
    const run = await execa(
      process.execPath,
      [
        path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
        "run",
        "--no-cache",
        "--cells",
        "tiny-llama/fp32/portable/host-x86_64@stable",
        "--out",
        path.join(full, "run"),
      ],
      { cwd: REPO_ROOT, reject: false },
    );
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("infrastructure: no space left on device");
    expect(run.stderr).not.toContain("internal error");
  }, 600_000);
});
