/**
 * Toolchain channels and environments against the real package index (PyPI through the machine's
 * pip configuration): `latest` resolves to real releases with the held packages at their pins;
 * a lock's environment is built once, reused, and pruned least-recently-used; and executorch
 * 1.3.1 — a real release built for an older torch, whose wheel does not say so — is classified as
 * "toolchain incompatible" by its real install, for `toolchain env` and for a cell of `pte-farm
 * run`, which records it as infrastructure about upstream and runs no stage.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { REPO_ROOT, STAGES_DIR } from "../actions/src/core/paths.ts";
import { parse } from "../actions/src/core/validate.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { ensureEnv, pruneEnvs } from "../actions/src/toolchain/envs.ts";
import { lockSchema, readLock, versionOf } from "../actions/src/toolchain/lock.ts";
import { classifyPipFailure, releasedVersions } from "../actions/src/toolchain/pip.ts";
import { resolveLines } from "../actions/src/toolchain/resolve.ts";
import { buildWheels, type LocalIndex, pipEnvFor, serveIndex } from "../scripts/local-index.ts";
import { hasRealPython, pinnedVersion, realPython } from "./helpers/env.ts";

const CLI = path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts");
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "pte-farm-toolchains-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** farm.yml with extra toolchains whose pins files are written here. */
async function matrixWith(toolchains: Record<string, { pins: string; channel?: string }>): Promise<string> {
  const farm = await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8");
  let extra = "";
  for (const [name, t] of Object.entries(toolchains)) {
    const pins = path.join(work, `${name}.txt`);
    await writeFile(pins, t.pins);
    extra += `  ${name}:\n    requirements: ${pins}\n${t.channel ?? ""}`;
  }
  const file = path.join(work, `farm-${Object.keys(toolchains).join("-")}.yml`);
  await writeFile(file, farm.replace("toolchains:\n", `toolchains:\n${extra}`));
  return file;
}

function pteFarm(args: string[], env: Record<string, string> = {}) {
  return execa("node", [CLI, ...args], {
    reject: false,
    all: true,
    env: { PTE_FARM_ENVS: path.join(work, "envs"), PTE_FARM_PYTHON: realPython, ...env },
  });
}

describe("pip's failures", () => {
  it("calls a set that cannot resolve incompatible, and anything the network caused infrastructure, even inside a failed build", () => {
    expect(classifyPipFailure("ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/")).toBe(
      "incompatible",
    );
    expect(classifyPipFailure("ERROR: No matching distribution found for executorch==9.9")).toBe(
      "incompatible",
    );
    expect(
      classifyPipFailure(
        "error: subprocess-exited-with-error\n  pip subprocess to install build dependencies did not run successfully.\n" +
          "  WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(...)'",
      ),
    ).toBe("infra");
    expect(classifyPipFailure("ERROR: HTTP error 503 while getting http://127.0.0.1/files/x.whl")).toBe(
      "infra",
    );
    expect(classifyPipFailure("Segmentation fault")).toBe("infra");
  });
});

describe("channel definitions", () => {
  it("refuses a health check of a channel without its lock (exit 2, saying how to get one)", async () => {
    const r = await pteFarm([
      "health",
      "--device",
      "host-x86_64",
      "--toolchain",
      "latest",
      "--out",
      path.join(work, "health-latest"),
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.all).toMatch(
      /--toolchain: toolchain latest is a channel: pass its lock \(pte-farm toolchain resolve latest --out LOCK\.json\)/,
    );
  });

  it("refuses a channel that leaves a pin neither tracked nor held (exit 2, naming it)", async () => {
    const matrix = await matrixWith({
      half: {
        pins: "torch==2.13.0\nexecutorch==1.4.1\n",
        channel: "    channel:\n      track: [executorch]\n      hold: []\n",
      },
    });
    const r = await pteFarm(["validate", "--matrix", matrix]);
    expect(r.exitCode).toBe(2);
    expect(r.all).toMatch(
      /farm-half\.yml:\d+:\d+: toolchain "half": pins torch are neither tracked nor held; add each to track or hold/,
    );
  });
});

describe.skipIf(!hasRealPython)("toolchain channels on the real package index", () => {
  it("resolves latest to the index's releases, tracked packages at or above their pins, held ones at their pins", async () => {
    const out = path.join(work, "latest.lock.json");
    const r = await pteFarm(["toolchain", "resolve", "latest", "--out", out]);
    expect(r.exitCode, r.all).toBe(0);
    const lock = await readLock(out);
    parse(lockSchema, lock, "lock");
    for (const p of lock.packages) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(versionOf(lock, "torch")?.split("+")[0]).toBe(pinnedVersion("torch"));
    expect(versionOf(lock, "numpy")).toBe(pinnedVersion("numpy"));
    for (const name of ["executorch", "torchao", "transformers"]) {
      const { versions } = await releasedVersions(realPython, name);
      const got = versionOf(lock, name) as string;
      expect(versions, name).toContain(got);
      // The index lists newest first: the channel's version is no older than the pin.
      expect(versions.indexOf(got), name).toBeLessThanOrEqual(versions.indexOf(pinnedVersion(name)));
    }
    expect(r.all).toMatch(new RegExp(`toolchain latest: lock ${lock.id}: torch `));
  }, 300_000);

  it("classifies executorch 1.3.1 with the farm's torch as toolchain incompatible by its real install, and a cell on it as infrastructure", async () => {
    const pins = (await readFile(path.join(STAGES_DIR, "requirements.txt"), "utf8")).replace(
      /^executorch==.*$/m,
      "executorch==1.3.1",
    );
    const matrix = await matrixWith({ old: { pins } });
    const lockFile = path.join(work, "old.lock.json");
    const resolved = await pteFarm(["toolchain", "resolve", "old", "--matrix", matrix, "--out", lockFile]);
    // The wheel declares no torch requirement: the resolver alone sees nothing wrong.
    expect(resolved.exitCode, resolved.all).toBe(0);
    const env = await pteFarm(["toolchain", "env", lockFile]);
    expect(env.exitCode, env.all).toBe(3);
    expect(env.all).toMatch(
      /toolchain incompatible: the packages of lock \w+ \(old: torch [^)]*executorch 1\.3\.1[^)]*\) do not load together/,
    );
    expect(env.all).toMatch(/undefined symbol/);

    const out = path.join(work, "old-run");
    const run = await pteFarm(
      [
        "run",
        "--cells",
        "tiny-llama/fp32/portable/host-x86_64@old",
        "--matrix",
        matrix,
        "--lock",
        lockFile,
        "--out",
        out,
      ],
      {
        HF_HUB_OFFLINE: "1",
        TRANSFORMERS_OFFLINE: "1",
      },
    );
    expect(run.exitCode, run.all).toBe(3);
    const record = parse(
      runRecord,
      JSON.parse(
        await readFile(path.join(out, "cells/tiny-llama/fp32/portable/host-x86_64@old/run.json"), "utf8"),
      ),
      "run.json",
    );
    expect(record.status).toBe("infra-error");
    expect(record.stages).toEqual([]);
    expect(record.failure?.message).toMatch(/^toolchain incompatible: /);
    expect(record.failure?.triage).toMatch(/undefined symbol/);
    expect(record.toolchain.lock).toBe((await readLock(lockFile)).id);

    // The health check of a runner on that toolchain says so too (infrastructure, exit 3).
    const health = await pteFarm([
      "health",
      "--device",
      "host-x86_64",
      "--toolchain",
      "old",
      "--matrix",
      matrix,
      "--lock",
      lockFile,
      "--out",
      path.join(work, "old-health"),
    ]);
    expect(health.exitCode, health.all).toBe(3);
    expect(health.all).toMatch(/toolchain incompatible: the packages of lock/);
  }, 900_000);
});

describe.skipIf(!hasRealPython)("environments per lock (a local index of small test wheels)", () => {
  let index: LocalIndex;
  beforeAll(async () => {
    const wheels = await buildWheels(
      path.join(work, "wheels"),
      "ptefarm-env",
      [
        { version: "1.0.0", body: "X = 1" },
        { version: "2.0.0", body: "X = 2" },
      ],
      realPython,
    );
    index = await serveIndex("ptefarm-env", wheels);
    Object.assign(process.env, pipEnvFor(index));
  }, 60_000);
  afterAll(async () => {
    for (const k of Object.keys(pipEnvFor(index))) delete process.env[k];
    await index.close();
  });

  it("builds an environment once per lock, reuses it, and prunes the least recently used beyond the budget", async () => {
    const logger = new RecordingLogger();
    const root = path.join(work, "small-envs");
    const logFile = path.join(work, "small.log");
    const opts = { python: realPython, logger, logFile };
    const one = await resolveLines("one", ["ptefarm-env==1.0.0"], opts);
    const two = await resolveLines("two", ["ptefarm-env==2.0.0"], opts);
    const a = await ensureEnv(one, { ...opts, root });
    expect(a.cached).toBe(false);
    const x = await execa(a.python, ["-c", "import ptefarm_env; print(ptefarm_env.X)"]);
    expect(x.stdout).toBe("1");
    const again = await ensureEnv(one, { ...opts, root });
    expect(again.cached).toBe(true);
    expect(index.requests.filter((u) => u.startsWith("/files/ptefarm_env-1.0.0")).length).toBe(2); // resolve + one install
    const b = await ensureEnv(two, { ...opts, root });
    // `one` was used longest ago: a budget for one environment removes it, and keeps `two`.
    const past = new Date(Date.now() - 60_000);
    await utimes(a.dir, past, past);
    const pruned = await pruneEnvs(root, b.bytes + 1, Date.now() - 30_000);
    expect(pruned.removed).toEqual([a.dir]);
    expect(existsSync(a.dir)).toBe(false);
    expect(existsSync(b.python)).toBe(true);
  }, 120_000);
});
