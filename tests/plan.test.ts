/**
 * `pte-farm plan`: builds shared across devices, sharding at GitHub's 256-job limit, affected-cell
 * selection for typical pull requests, `$GITHUB_OUTPUT`, skipped cells, and the promise that `run`
 * and `plan` speak the same cell ids.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { runnableCell } from "../actions/src/pipeline/runnable-cell.ts";
import { allCells, selectCells } from "../matrix/cells.ts";
import { loadFarm } from "../matrix/load.ts";
import { plan } from "../matrix/plan.ts";
import { githubOutput, planOutput, shard } from "../matrix/shard.ts";
import type { Farm } from "../matrix/types.ts";
import { writeSyntheticFarm } from "../scripts/synthetic-farm.ts";
import { tempDir } from "./helpers/env.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
let farm: Farm;
beforeAll(async () => {
  farm = await loadFarm(DEFAULT_MATRIX);
});

const pr = (changed: string[], base: Farm | null = null) =>
  plan(farm, { event: "pull_request", changed, base });
const ids = (p: ReturnType<typeof plan>) => p.devices.map((d) => d.cell);

describe("build jobs", () => {
  it("builds each (model, recipe, backend, toolchain, arch) once and ships it to every device that runs it", () => {
    const p = plan(farm, { event: "schedule" });
    const arm = p.builds.find(
      (b) =>
        b.model === "tiny-llama" && b.recipe === "8da4w-g32" && b.backend === "xnnpack" && b.arch === "arm64",
    );
    expect(arm?.cells).toEqual([
      "tiny-llama/8da4w-g32/xnnpack/host-arm64@stable",
      "tiny-llama/8da4w-g32/xnnpack/pi5@stable",
      "tiny-llama/8da4w-g32/xnnpack/pi5-emu@stable",
      "tiny-llama/8da4w-g32/xnnpack/m1@stable",
    ]);
    expect(arm?.runs_on).toEqual(["ubuntu-24.04-arm"]);
    const x86 = p.builds.find(
      (b) =>
        b.build ===
        p.devices.find((d) => d.cell === "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable")?.build,
    );
    expect(x86).toMatchObject({
      arch: "x86_64",
      runs_on: ["ubuntu-24.04"],
      cells: ["tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable"],
    });
    // Every device job names a build that exists and lists it; no build key appears twice.
    const byId = new Map(p.builds.map((b) => [b.build, b]));
    expect(byId.size).toBe(p.builds.length);
    for (const d of p.devices) expect(byId.get(d.build)?.cells).toContain(d.cell);
    expect(p.builds.reduce((n, b) => n + b.cells.length, 0)).toBe(p.devices.length);
    expect(p.builds.length).toBeLessThan(p.devices.length);
  });

  it("puts the FVP devices' builds on x86_64 and carries runs-on, driver and fork policy into device jobs", () => {
    const p = plan(farm, { event: "schedule" });
    const fvp = p.devices.find(
      (d) => d.cell === "small-cnn/ethos-u-int8/ethos-u55-128/corstone-300-u55@stable",
    );
    expect(fvp).toMatchObject({ driver: "fvp", runs_on: ["ubuntu-24.04"], fork_prs: true });
    expect(p.builds.find((b) => b.build === fvp?.build)?.arch).toBe("x86_64");
    const pi = p.devices.find((d) => d.device === "pi5");
    expect(pi).toMatchObject({
      driver: "llama-main",
      runs_on: ["self-hosted", "linux", "ARM64", "pi5"],
      fork_prs: false,
    });
  });

  it("gives builds stable, readable ids", () => {
    const a = plan(farm, { event: "push" }).builds.map((b) => b.build);
    expect(plan(farm, { event: "push" }).builds.map((b) => b.build)).toEqual(a);
    expect(a).toContain("tiny-llama.fp32.xnnpack.stable.x86_64-a4ed63b4");
  });
});

describe("sharding at GitHub's 256-job matrix limit", () => {
  it("splits into the fewest even shards, in order, losing and duplicating nothing", () => {
    expect(shard([], 256)).toEqual([[]]);
    expect(shard(Array.from({ length: 256 }, (_, i) => i)).length).toBe(1);
    const s = shard(Array.from({ length: 257 }, (_, i) => i));
    expect(s.map((x) => x.length)).toEqual([129, 128]);
    expect(s.flat()).toEqual(Array.from({ length: 257 }, (_, i) => i));
  });

  it("plans a 600-cell farm as 3 device shards of at most 256, with every cell exactly once", async () => {
    const file = path.join(await tempDir(), "farm.yml");
    await writeSyntheticFarm(file, { models: 10, recipes: 2, backends: 1, devices: 30, toolchains: 1 });
    const big = await loadFarm(file);
    const p = plan(big, { event: "schedule" });
    expect(p.devices).toHaveLength(600);
    const out = planOutput(p) as Record<string, { include: { cell: string }[] }> & { shards: unknown };
    expect(out.shards).toEqual({ builds: 1, devices: 3 });
    expect(out.devices).toBeUndefined();
    const shards = [out.devices_1, out.devices_2, out.devices_3].map((s) => s?.include ?? []);
    for (const s of shards) expect(s.length).toBeLessThanOrEqual(256);
    const cells = shards.flat().map((d) => d.cell);
    expect(new Set(cells).size).toBe(600);
    expect(cells).toEqual(p.devices.map((d) => d.cell));
    expect(out.devices_4).toBeUndefined();
    expect((out.builds as unknown as { include: unknown[] }).include).toHaveLength(40); // 10 × 2 × 2 arches
  });
});

describe("affected cells for a pull request", () => {
  it("touches only a recipe's cells when its entry in the matrix changed, saying which entry", async () => {
    const baseText = (await readFile(DEFAULT_MATRIX, "utf8")).replace(
      "params: { group_size: 128 }",
      "params: { group_size: 64 }",
    );
    const baseFile = path.join(await tempDir(), "base.yml");
    await writeFile(baseFile, baseText);
    const base = await loadFarm(baseFile, { knownIssues: null, checkFiles: false });
    const p = pr(["matrix/farm.yml"], base);
    expect(p.devices.length).toBeGreaterThan(0);
    expect(new Set(p.devices.map((d) => d.recipe))).toEqual(new Set(["8da4w-g128"]));
    expect(p.selection[0]?.reason).toBe("matrix/farm.yml: recipe 8da4w-g128 changed");
    // Every 8da4w-g128 cell of the nightly set that is not excluded is selected.
    const all = plan(farm, { event: "schedule" }).devices.filter((d) => d.recipe === "8da4w-g128");
    expect(ids(p)).toEqual(all.map((d) => d.cell));
  });

  it("touches every candidate when the matrix changed but there is no base to diff, and says so", () => {
    const p = pr(["matrix/farm.yml"]);
    expect(p.devices.length).toBe(plan(farm, { event: "schedule" }).devices.length);
    expect(p.selection[0]?.reason).toContain("no --base-matrix was given");
  });

  it("touches every backend's cells for the backend registry, which holds Ethos-U and TOSA too", () => {
    const p = pr(["stages/pte_stages/backends.py"]);
    expect(new Set(p.devices.map((d) => d.backend))).toEqual(
      new Set(["xnnpack", "xnnpack-per-op", "portable", "ethos-u55-128", "ethos-u85-256", "tosa"]),
    );
    expect(p.selection[0]?.reason).toBe(
      "stages/pte_stages/backends.py changed: the backend registry, which holds every backend kind",
    );
  });

  it("touches only the CNNs' cells for the TOSA .pte runner", () => {
    const p = pr(["stages/pte_stages/tosa_runtime.py"]);
    expect(new Set(p.devices.map((d) => d.model))).toEqual(new Set(["small-cnn", "small-cnn-lrn"]));
    expect(p.devices.map((d) => d.cell)).toContain("small-cnn-lrn/ethos-u-int8/tosa/host-x86_64@stable");
  });

  it("touches everything for shared stage code", () => {
    const p = pr(["stages/pte_stages/export.py"]);
    expect(p.devices.length).toBe(plan(farm, { event: "schedule" }).devices.length);
    expect(
      p.selection.every(
        (s) => s.reason === "stages/pte_stages/export.py changed: shared stage and orchestration code",
      ),
    ).toBe(true);
  });

  it("touches one model's cells for a change inside its folder", () => {
    const p = pr(["stages/models/tiny-llama/config.json"]);
    expect(new Set(p.devices.map((d) => d.model))).toEqual(new Set(["tiny-llama"]));
    expect(p.selection[0]?.reason).toBe(
      "stages/models/tiny-llama/config.json changed: inside model tiny-llama's folder",
    );
  });

  it("touches nothing for a docs-only change, and reports how it decided", () => {
    const p = pr(["README.md", "docs/farm/overview.md", "stages/README.md"]);
    expect(p.devices).toEqual([]);
    expect(p.builds).toEqual([]);
    expect(p.changes?.map((c) => c.touches)).toEqual(["nothing", "nothing", "nothing"]);
    // Excluded cells still show as skipped, even when nothing runs.
    expect(p.skipped.length).toBeGreaterThan(0);
  });

  it("touches everything for a path no rule covers, and counts the other reasons", () => {
    const p = pr([".github/workflows/farm.yml", "stages/pte_stages/backends.py"]);
    const cell = p.selection.find((s) => s.cell === "tiny-llama/fp32/xnnpack/host-x86_64@stable");
    expect(cell?.reason).toBe(
      ".github/workflows/farm.yml changed and no rule in paths: covers it, so it may touch anything (+1 more)",
    );
  });

  it("touches a toolchain's cells when its pins file changed", () => {
    const p = pr(["stages/requirements.txt"]);
    expect(p.devices.length).toBeGreaterThan(0);
    expect(p.selection[0]?.reason).toBe("stages/requirements.txt changed: the pins of toolchain stable");
  });

  it("needs the changed files for a pull request", () => {
    expect(() => plan(farm, { event: "pull_request" })).toThrow(ConfigurationError);
    expect(() => plan(farm, { event: "pull_request" })).toThrow(/needs --changed-files FILE/);
  });
});

describe("event selection and skipped cells", () => {
  it("runs the host set on push, with the include rule's reason on the included Pi cell", () => {
    const p = plan(farm, { event: "push" });
    expect(ids(p)).toContain("tiny-llama/fp32/xnnpack/host-arm64@stable");
    expect(p.selection.find((s) => s.cell === "tiny-llama/8da4w-g32/xnnpack/pi5@stable")?.reason).toMatch(
      /^push runs cell set host \(included: one real-board smoke test per push/,
    );
    expect(p.selection.find((s) => s.cell === "tiny-llama/fp32/portable/host-x86_64@stable")?.reason).toBe(
      "push runs cell set host",
    );
  });

  it("shows excluded cells as skipped with reason and known issue, and never plans them", () => {
    const p = plan(farm, { event: "schedule" });
    expect(p.skipped).toContainEqual({
      cell: "gemma-4-e2b/fp32/xnnpack/pi5@stable",
      reason: "FP32 Gemma 4 E2B weights do not fit in the Pi 5's 8 GB",
      known_issue: null,
    });
    expect(p.skipped).toContainEqual(
      expect.objectContaining({
        cell: "opt-125m/8da4w-g32/xnnpack-per-op/m1@stable",
        known_issue: "xnnpack-aarch64-fused-int4",
      }),
    );
    const skipped = new Set(p.skipped.map((s) => s.cell));
    expect(p.devices.filter((d) => skipped.has(d.cell))).toEqual([]);
    expect(selectCells(farm, "opt-125m/8da4w-g32/xnnpack-per-op/m1@stable")).toMatchObject({
      cells: [],
      skipped: [{ cell: "opt-125m/8da4w-g32/xnnpack-per-op/m1@stable" }],
    });
  });
});

describe("run and plan share one expansion", () => {
  it("resolves every planned cell id with run --cells to exactly that cell", () => {
    const p = plan(farm, { event: "schedule" });
    for (const d of p.devices) expect(selectCells(farm, d.cell).cells.map((c) => c.id)).toEqual([d.cell]);
    // The nightly set is everything on the pinned toolchains (channels are farm-upstream's), but the
    // canaries' own recipes and backends, which a set that omits them leaves out.
    expect(
      new Set(
        allCells(farm)
          .filter((c) => c.toolchain.channel === null && !c.recipe.canary && !c.backend.canary)
          .map((c) => c.id),
      ),
    ).toEqual(new Set([...ids(p), ...p.skipped.map((s) => s.cell)]));
  });

  it("lists a channel's cells in a set as skipped with why, never as build or device jobs", () => {
    const sets = new Map(farm.cellSets);
    const nightly = sets.get("nightly");
    if (nightly === undefined) throw new Error("test bug: no nightly set");
    sets.set("nightly", { ...nightly, toolchains: [...farm.toolchains.keys()] });
    const channels = [...farm.toolchains.values()].filter((t) => t.channel !== null).map((t) => t.name);
    expect(channels.length).toBeGreaterThan(0);
    const p = plan({ ...farm, cellSets: sets }, { event: "schedule" });
    expect(p.devices.filter((d) => channels.some((t) => d.cell.endsWith(`@${t}`)))).toEqual([]);
    const skipped = p.skipped.filter((s) => channels.some((t) => s.cell.endsWith(`@${t}`)));
    // Each is skipped by an exclude rule (visible as such) or, otherwise, as a channel's.
    const asChannel = skipped.filter((s) =>
      /is a channel: farm-upstream runs its cells on its resolved lock/.test(s.reason),
    );
    expect(asChannel.length).toBeGreaterThan(0);
    expect(
      skipped.every((s) => asChannel.includes(s) || farm.exclude.some((r) => r.regexp.test(s.cell))),
    ).toBe(true);
  });

  it("runs the host cells of the device matching this machine by default, and refuses a machine with none", () => {
    expect(
      selectCells(farm, undefined, { os: "linux", arch: "arm64" }).cells.map((c) => c.device.name),
    ).toEqual(Array(4).fill("host-arm64"));
    expect(() => selectCells(farm, undefined, { os: "macos", arch: "arm64" })).toThrow(
      /cell set host .* has no cell on a local device for this machine \(macos arm64\); pass --cells/,
    );
  });

  it("refuses a hub model that is not in the local cache, naming its id and revision, and uses it when it is", async () => {
    const cell = selectCells(farm, "gemma-4-e2b/8da4w-g32/xnnpack/host-x86_64@stable").cells[0];
    if (cell === undefined) throw new Error("test bug: no gemma cell");
    const cache = await tempDir();
    expect(() => runnableCell(cell, { HF_HUB_CACHE: cache })).toThrow(
      /model gemma-4-e2b needs the Hugging Face hub: google\/gemma-4-E2B-it at revision UNPINNED, which is not in the local cache/,
    );
    const snapshot = path.join(cache, "models--google--gemma-4-E2B-it", "snapshots", "UNPINNED");
    await mkdir(snapshot, { recursive: true });
    await writeFile(path.join(snapshot, "config.json"), "{}");
    expect(runnableCell(cell, { HF_HUB_CACHE: cache }).model.path).toBe(snapshot);
  });
});

describe("pte-farm plan on the command line", () => {
  it("prints the plan and appends single-line JSON outputs to $GITHUB_OUTPUT", async () => {
    const dir = await tempDir();
    const output = path.join(dir, "github_output");
    await writeFile(output, "earlier=kept\n");
    const changed = path.join(dir, "changed.txt");
    await writeFile(changed, "./stages/models/tiny-llama/config.json\n\nREADME.md\n");
    const res = await execa(
      process.execPath,
      [CLI, "plan", "--event", "pull_request", "--changed-files", changed],
      { reject: false, cwd: REPO_ROOT, env: { GITHUB_OUTPUT: output } },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const printed = JSON.parse(res.stdout);
    const lines = (await readFile(output, "utf8")).split("\n").filter((l) => l !== "");
    expect(lines[0]).toBe("earlier=kept");
    const outputs = Object.fromEntries(
      lines.slice(1).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(Object.keys(outputs)).toEqual([
      "schema",
      "event",
      "cell_set",
      "builds",
      "devices",
      "shards",
      "skipped",
      "selection",
      "changes",
    ]);
    expect(outputs.event).toBe("pull_request");
    expect(JSON.parse(outputs.devices ?? "")).toEqual(printed.devices);
    expect(JSON.parse(outputs.shards ?? "")).toEqual({ builds: 1, devices: 1 });
    expect(printed.devices.include.every((d: { model: string }) => d.model === "tiny-llama")).toBe(true);
  });

  it("uses GitHub's delimiter form for a value with a newline", () => {
    expect(githubOutput({ a: "x", b: "line 1\nline 2", c: { d: 1 } })).toBe(
      'a=x\nb<<PTE_FARM_EOF\nline 1\nline 2\nPTE_FARM_EOF\nc={"d":1}\n',
    );
    expect(githubOutput({ b: "x\nPTE_FARM_EOF" })).toBe("b<<PTE_FARM_EOF_\nx\nPTE_FARM_EOF\nPTE_FARM_EOF_\n");
  });

  it("plans every candidate, warning and saying why, when the base matrix does not validate", async () => {
    const dir = await tempDir();
    const base = path.join(dir, "base.yml");
    await writeFile(base, "schema: pte-farm/farm@0\n");
    const changed = path.join(dir, "changed.txt");
    await writeFile(changed, "matrix/farm.yml\n");
    const res = await execa(
      process.execPath,
      [CLI, "plan", "--event", "pull_request", "--changed-files", changed, "--base-matrix", base],
      { reject: false, cwd: REPO_ROOT },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stderr).toMatch(
      /^warning: --base-matrix: .*base\.yml:1:9: schema: expected one of "pte-farm\/farm@1", got "pte-farm\/farm@0"; diffing the matrix is not possible$/m,
    );
    const out = JSON.parse(res.stdout);
    expect(out.devices.include.length).toBe(plan(farm, { event: "schedule" }).devices.length);
    expect(out.selection[0].reason).toBe(
      "matrix/farm.yml changed and the base matrix does not validate here to diff it against",
    );
  });

  it("rejects a missing or unknown event with exit 2", async () => {
    const res = await execa(process.execPath, [CLI, "plan", "--event", "tag"], {
      reject: false,
      cwd: REPO_ROOT,
    });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("--event tag: expected one of pull_request, push, schedule, release");
  });
});
