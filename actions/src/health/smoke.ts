/**
 * The smoke `.pte` check: a two-operator module (stages/pte_stages/probes/smoke.py) run through this
 * machine's real ExecuTorch Python runtime, its output compared with eager PyTorch's.
 *
 * The build (export + lower, ~6 s) goes through the content-addressed build cache (cache.ts) under
 * the kind `smoke`, keyed by the same toolchain fingerprint stage builds use (pins, installed
 * packages, stage code): built once per toolchain, and again whenever any of those change. The run
 * happens on every check — it is the point: it exercises the runtime on this board, now. A cached
 * `.pte` whose sha256 no longer matches its build's record is evicted and rebuilt, so a corrupted
 * cache cannot fail every later check.
 *
 * A build or run that fails or hangs is `fail` (this machine cannot produce or execute a program,
 * so every cell on it would fail for the same reason). An interpreter that cannot even be started
 * makes this check `unknown` (it could not run); the toolchain check fails for that one.
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { canonicalJson, sha256File, sha256Text } from "../core/hashing.ts";
import { STAGES_DIR } from "../core/paths.ts";
import { arr, bool, literal, num, obj, parseJson, str, unknownValue } from "../core/validate.ts";
import { arm64EnvDir, launcherIn } from "../drivers/emulation.ts";
import { BuildCache, fingerprintToolchain } from "../pipeline/cache.ts";
import type { HealthCheck } from "./checks.ts";

const SMOKE_FILES = ["smoke.pte", "smoke.json"] as const;
const BUILD_TIMEOUT_MS = 300_000;
const RUN_TIMEOUT_MS = 120_000;
const EMULATED_RUN_TIMEOUT_MS = 600_000;

const smokeRun = obj({
  schema: literal("pte-farm/smoke@1"),
  ok: bool,
  pte_sha256: str,
  expected: arr(unknownValue),
  actual: arr(unknownValue),
  load_ms: num,
  execute_ms: num,
});

/** Runs the helper; throws (→ unknown) only when the interpreter could not be started at all. */
async function runSmoke(python: string, args: string[], timeout: number, env: Record<string, string> = {}) {
  const res = await execa(python, ["-m", "pte_stages.probes.smoke", ...args], {
    reject: false,
    timeout,
    env: { PYTHONPATH: [STAGES_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), ...env },
  });
  if (res.exitCode === undefined && !res.timedOut && res.signal === undefined) {
    throw new Error(`cannot start ${python}: ${res.shortMessage}`);
  }
  return res;
}

const tail = (text: string) => text.trim().split("\n").slice(-3).join(" | ");

/** The cache key of the smoke build: what it depends on, as for a stage build. */
export async function smokeKey(pythonPath: string, pinsFile: string): Promise<string> {
  const fingerprint = await fingerprintToolchain({
    python: pythonPath,
    pinsFile,
    stagesPackageDir: path.join(STAGES_DIR, "pte_stages"),
  });
  return sha256Text(canonicalJson({ kind: "smoke", toolchain: fingerprint }));
}

/** The cached `.pte` still has the sha256 its build recorded (a tiny file: hashing it on every hit is free). */
async function intact(dir: string): Promise<boolean> {
  const meta = JSON.parse(await readFile(path.join(dir, "smoke.json"), "utf8")) as { pte_sha256?: unknown };
  return meta.pte_sha256 === (await sha256File(path.join(dir, "smoke.pte")));
}

type Built = { dir: string; cache: "hit" | "miss" | "off" } | { error: string };

/** The smoke build's folder: from the cache, built into it, or (no cache) built into `scratch`. */
async function built(
  python: string,
  pinsFile: string,
  cache: BuildCache | null,
  scratch: string,
): Promise<Built> {
  const key = cache === null ? null : await smokeKey(python, pinsFile);
  if (cache !== null && key !== null) {
    const hit = await cache.lookupFolder("smoke", key, SMOKE_FILES, intact);
    if (hit !== null) return { dir: hit, cache: "hit" };
  }
  const out = cache === null ? scratch : await cache.tempDir("smoke");
  const res = await runSmoke(python, ["build", "--out", out], BUILD_TIMEOUT_MS);
  if (res.exitCode !== 0) {
    if (cache !== null) await rm(out, { recursive: true, force: true });
    return { error: `the smoke .pte does not build: ${tail(String(res.stderr)) || res.shortMessage}` };
  }
  if (cache === null || key === null) return { dir: out, cache: "off" };
  return { dir: await cache.publishFolder("smoke", key, out, { kind: "smoke" }), cache: "miss" };
}

export const smokeCheck: HealthCheck = {
  name: "smoke-pte",
  async run(ctx) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), "pte-farm-smoke-"));
    try {
      const b = await built(
        ctx.python,
        ctx.pinsFile,
        ctx.cacheDir === null ? null : new BuildCache(ctx.cacheDir),
        scratch,
      );
      if ("error" in b) return { status: "fail", detail: b.error };
      const where = { dir: b.cache === "off" ? null : b.dir, cache: b.cache };
      // Built on the host; on an emulated device it runs on the aarch64 runtime under QEMU (its
      // interpreter alone takes about a minute to start there).
      const emu = ctx.emulation ?? null;
      const res =
        emu === null
          ? await runSmoke(ctx.python, ["run", "--dir", b.dir], RUN_TIMEOUT_MS)
          : await runSmoke(
              launcherIn(arm64EnvDir(ctx.env)),
              ["run", "--dir", b.dir],
              EMULATED_RUN_TIMEOUT_MS,
              { PTE_FARM_QEMU_CPU: emu.qemuCpu },
            );
      if (res.exitCode !== 0 && res.exitCode !== 1) {
        return {
          status: "fail",
          detail: `the smoke .pte does not run: ${tail(String(res.stderr)) || res.shortMessage}`,
          data: where,
        };
      }
      const out = parseJson(smokeRun, String(res.stdout), "python -m pte_stages.probes.smoke run");
      const data = { ...where, ...out };
      if (!out.ok) {
        return {
          status: "fail",
          detail: `the smoke .pte computed ${JSON.stringify(out.actual)}, eager PyTorch ${JSON.stringify(out.expected)}`,
          data,
        };
      }
      return {
        status: "pass",
        detail: `add+mul .pte matches eager PyTorch (load ${out.load_ms} ms, execute ${out.execute_ms} ms; build ${b.cache === "hit" ? "cached" : "fresh"})`,
        data,
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};
