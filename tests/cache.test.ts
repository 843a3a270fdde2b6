import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  BuildCache,
  cacheKey,
  fingerprintToolchain,
  keyMaterial,
  modelFolderHash,
  type ToolchainFingerprint,
} from "../actions/src/pipeline/cache.ts";
import { runStage } from "../actions/src/pipeline/stage-process.ts";
import { fakeStages, makeSpec, tempDir } from "./helpers/env.ts";

const FP: ToolchainFingerprint = {
  pins: "executorch==1.4.1\ntorchao==0.18.0\n",
  installed: ["torch==2.13.0+cpu"],
  stageCode: "c0de",
};

function key(spec: ReturnType<typeof makeSpec>, shas: Record<string, string> = {}, fp = FP, model = "m0de1") {
  return cacheKey(spec.stage, keyMaterial(spec, shas), fp, model);
}

describe("cache keys", () => {
  it("are stable: same spec, same key, whatever the key order", () => {
    const a = makeSpec("lower", { recipe: { name: "8da4w-g32", scheme: "8da4w", group_size: 32 } });
    const b = makeSpec("lower", { recipe: { group_size: 32, scheme: "8da4w", name: "8da4w-g32" } });
    expect(key(a, { program: "aa" })).toBe(key(b, { program: "aa" }));
    expect(key(a, { program: "aa" })).toMatch(/^[0-9a-f]{64}$/);
  });

  it("replace input paths by content: a moved input keeps the key, changed bytes change it", () => {
    const here = makeSpec("quantize", { inputs: { program: "/tmp/a/program.pt2" } });
    const there = makeSpec("quantize", { inputs: { program: "/cache/b/program.pt2" } });
    expect(key(here, { program: "aa" })).toBe(key(there, { program: "aa" }));
    expect(key(here, { program: "aa" })).not.toBe(key(here, { program: "bb" }));
  });

  it("leave out what a build does not depend on: device, execute settings; export ignores recipe and backend", () => {
    const base = makeSpec("export");
    const other = makeSpec("export", {
      cell: { ...base.cell, recipe: "8da4w-g32", backend: "xnnpack", device: "pi5" },
      recipe: { name: "8da4w-g32", scheme: "8da4w", group_size: 32 },
      backend: { name: "xnnpack", kind: "xnnpack" },
      execute: { warmup: 3, reps: 10, prompt_ids: [[1, 2]] },
    });
    expect(key(base)).toBe(key(other));
    const lower = makeSpec("lower");
    expect(key(lower, { program: "aa" })).toBe(
      key(
        { ...lower, cell: { ...lower.cell, device: "pi5" }, execute: { warmup: 9, reps: 9, prompt_ids: [] } },
        { program: "aa" },
      ),
    );
  });

  it("change with the recipe, backend, prompts, options, toolchain pins, stage code and model", () => {
    const lower = makeSpec("lower");
    const k = key(lower, { program: "aa" });
    expect(key({ ...lower, backend: { name: "xnnpack", kind: "xnnpack" } }, { program: "aa" })).not.toBe(k);
    expect(
      key({ ...lower, recipe: { name: "fp32", scheme: "fp32", group_size: 8 } }, { program: "aa" }),
    ).not.toBe(k);
    expect(key({ ...lower, prompts: ["Once upon a time"] }, { program: "aa" })).not.toBe(k);
    expect(key({ ...lower, options: { sleep_s: 1 } }, { program: "aa" })).not.toBe(k);
    expect(key(lower, { program: "aa" }, { ...FP, pins: "executorch==1.4.2\n" })).not.toBe(k);
    expect(key(lower, { program: "aa" }, { ...FP, installed: ["torch==2.12.0"] })).not.toBe(k);
    expect(key(lower, { program: "aa" }, { ...FP, stageCode: "c0de2" })).not.toBe(k);
    expect(key(lower, { program: "aa" }, FP, "other-model")).not.toBe(k);
  });

  it("hash stage code over *.py files only, and the model folder over every file", async () => {
    const root = await tempDir();
    const pkg = path.join(root, "pte_stages");
    await mkdir(path.join(pkg, "sub"), { recursive: true });
    await writeFile(path.join(pkg, "lower.py"), "x = 1\n");
    await writeFile(path.join(pkg, "sub", "util.py"), "y = 2\n");
    const pins = path.join(root, "requirements.txt");
    await writeFile(pins, "executorch==1.4.1\n");
    const python = process.env.PTE_FARM_PYTHON ?? "python3";
    const fp = () => fingerprintToolchain({ python, pinsFile: pins, stagesPackageDir: pkg });
    const first = await fp();
    expect(first.installed.length).toBeGreaterThan(0);
    await writeFile(path.join(pkg, "README.md"), "docs do not change builds\n");
    expect((await fp()).stageCode).toBe(first.stageCode);
    await writeFile(path.join(pkg, "sub", "util.py"), "y = 3\n");
    expect((await fp()).stageCode).not.toBe(first.stageCode);

    const model = path.join(root, "model");
    await mkdir(model);
    await writeFile(path.join(model, "config.json"), "{}");
    const m1 = await modelFolderHash(model);
    expect(await modelFolderHash(model)).toBe(m1);
    await writeFile(path.join(model, "tokenizer.json"), "{}");
    expect(await modelFolderHash(model)).not.toBe(m1);
  });
});

describe("build cache", () => {
  it("serves a published build from its entry folder, and treats a tampered entry as a miss", async () => {
    const cache = new BuildCache(await tempDir());
    const tmp = await cache.tempDir("export");
    const built = await runStage("export", {
      command: fakeStages,
      spec: makeSpec("export", { options: { fake: "ok-export" } }),
      dir: tmp,
      timeoutMs: 30_000,
    });
    expect(built.kind).toBe("ok");
    const k = "ab".repeat(32);
    expect(await cache.lookup("export", k)).toBeNull();
    const dir = await cache.publish("export", k, tmp, { any: "material" });
    const hit = await cache.lookup("export", k);
    expect(hit?.dir).toBe(dir);
    expect(hit?.result.artefacts.program?.bytes).toBe(20);
    expect(JSON.parse(await readFile(path.join(dir, "cache-entry.json"), "utf8")).key).toBe(k);

    await writeFile(path.join(dir, "program.pt2"), "truncated");
    expect(await cache.lookup("export", k)).toBeNull();
    expect(await readdir(path.dirname(dir))).toEqual([]);
  });

  it("keeps the first entry when two builds of the same key are published", async () => {
    const cache = new BuildCache(await tempDir());
    const k = "cd".repeat(32);
    const dirs: string[] = [];
    for (const _ of [1, 2]) {
      const tmp = await cache.tempDir("export");
      await runStage("export", {
        command: fakeStages,
        spec: makeSpec("export", { options: { fake: "ok-export" } }),
        dir: tmp,
        timeoutMs: 30_000,
      });
      dirs.push(await cache.publish("export", k, tmp, {}));
    }
    expect(dirs[0]).toBe(dirs[1]);
    expect(await readdir(path.join(cache.root, "tmp"))).toEqual([]);
  });

  it("leaves no entry behind when a build is killed midway", async () => {
    const cache = new BuildCache(await tempDir());
    const tmp = await cache.tempDir("lower");
    const outcome = await runStage("lower", {
      command: fakeStages,
      spec: makeSpec("lower", { options: { fake: "sleep-with-child" } }),
      dir: tmp,
      timeoutMs: 1000,
      graceMs: 500,
    });
    expect(outcome.kind).toBe("timeout");
    expect(await readdir(path.join(cache.root, "entries")).catch(() => [])).toEqual([]);
  });
});
