/**
 * The plan, compare and health actions end to end under GitHub's `@github/local-action` (its CLI
 * reads each action.yml, feeds inputs from a .env file and stubs @actions/core). The stage actions
 * run under it too, in actions-local-action-stages.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX } from "../actions/src/core/paths.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { planOutputs } from "../actions/src/plan/outputs.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { pairedSession } from "../scripts/synthetic-sessions.ts";
import { hasRealPython, realPython, tempDir } from "./helpers/env.ts";
import { runLocalAction } from "./helpers/local-action.ts";
import { record, writeRecords } from "./helpers/records.ts";

const onPi = <T extends { cell: { device: string }; device: { board: string } }>(r: T): T => {
  r.cell.device = "pi5";
  r.device.board = "raspberry-pi-5-8gb";
  return r;
};

describe("plan under @github/local-action", () => {
  it("outputs exactly what `pte-farm plan` computes for a pull request, and summarises it", async () => {
    const changed = path.join(await tempDir(), "changed.txt");
    await writeFile(changed, "stages/pte_stages/backends.py\nREADME.md\n");
    const run = await runLocalAction("plan", { event: "pull_request", "changed-files": changed });
    expect(run.exitCode, run.stdout).toBe(0);
    const expected = await planOutputs({
      matrix: DEFAULT_MATRIX,
      event: "pull_request",
      changedFiles: changed,
      logger: new RecordingLogger(),
    });
    const got = Object.fromEntries(
      Object.entries(run.outputs).map(([k, v]) => [k, typeof expected[k] === "string" ? v : JSON.parse(v)]),
    );
    expect(got).toEqual(expected);
    expect((got.builds as { include: unknown[] }).include.length).toBeGreaterThan(0);
    expect(run.summary).toMatch(
      /^### pte-farm plan: pull_request\n\ncell set `nightly`: \d+ build jobs, \d+ device jobs/,
    );
  });

  it("skips a device the history input's store shows quarantined, with the health check's reason", async () => {
    const store = await tempDir();
    const bad = {
      schema: "pte-farm/health@1" as const,
      device: "pi5",
      toolchain: "stable",
      state: "bad" as const,
      checked_at: "2026-11-23T05:00:00.000Z",
      maintenance: null,
      checks: [{ name: "disk", status: "fail" as const, detail: "12 MiB free at /srv" }],
    };
    await new LocalFolderStore(store).appendHealth([bad]);
    const run = await runLocalAction("plan", { event: "push", history: `dir:${store}` });
    expect(run.exitCode, run.stdout).toBe(0);
    const devices = JSON.parse(run.outputs.devices ?? "{}").include as { device: string }[];
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.map((d) => d.device)).not.toContain("pi5");
    expect(JSON.parse(run.outputs.skipped ?? "[]")).toContainEqual({
      cell: "tiny-llama/8da4w-g32/xnnpack/pi5@stable",
      reason: "quarantined: health check bad at 2026-11-23T05:00:00.000Z (disk: 12 MiB free at /srv)",
      known_issue: null,
    });
  });

  it("fails the step as bad input (exit 2) for an unknown event, naming the allowed ones", async () => {
    const run = await runLocalAction("plan", { event: "pull-request" });
    expect(run.exitCode).toBe(2);
    expect(run.errors).toEqual([
      'pte-farm plan: bad input: input event: "pull-request"; expected one of pull_request, push, schedule, release',
    ]);
    expect(run.outputs).toEqual({});
  });
});

describe("compare under @github/local-action", () => {
  it("calls a 10% decode drop a regression: writes the comparison, sets the verdict, fails the step (exit 1)", async () => {
    const s = pairedSession(seededRng(4), 0.1, 16);
    const headRecord = onPi(record(s.head));
    const [base, head] = await writeRecords(onPi(record(s.base)), headRecord);
    const out = await tempDir();
    const run = await runLocalAction("compare", {
      base: base as string,
      head: head as string,
      "out-dir": out,
    });
    expect(run.exitCode).toBe(1);
    expect(run.outputs.verdict).toBe("regression");
    expect(run.outputs.comparison).toBe(path.join(out, "comparison.json"));
    const comparison = JSON.parse(await readFile(path.join(out, "comparison.json"), "utf8"));
    expect(comparison).toMatchObject({ schema: "pte-farm/compare@1", verdict: "regression" });
    expect(run.errors[0]).toMatch(/: regression in decode_tokens_per_sec ×0\.\d{3}$/);
    expect(run.errors[0]?.startsWith(`${headRecord.cell.id}: `)).toBe(true);
    expect(run.summary).toContain("| decode_tokens_per_sec | 🔴 regression |");
  });

  it("passes an inconclusive comparison with a warning that says how many more reps would decide it", async () => {
    const [base, head] = await writeRecords(
      onPi(record([10, 9.2, 10.6, 9.7])),
      onPi(record([9.5, 10.1, 9.0, 9.9])),
    );
    const run = await runLocalAction("compare", {
      base: base as string,
      head: head as string,
      "out-dir": await tempDir(),
    });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.outputs.verdict).toBe("inconclusive");
    expect(run.warnings[0]).toMatch(/^inconclusive: about \d+ more reps per side would decide it/);
  });

  it("fails as bad input (exit 2) when the head record is not given", async () => {
    const [base] = await writeRecords(onPi(record([10, 10, 10, 10])));
    const run = await runLocalAction("compare", { base: base as string });
    expect(run.exitCode).toBe(2);
    expect(run.errors[0]).toBe("pte-farm compare: bad input: input head is required: The head run record.");
  });
});

describe("export under @github/local-action, before any stage runs", () => {
  it("fails as bad input (exit 2) for a build entry that is not one of the plan's builds", async () => {
    const build = JSON.stringify({
      model: "tiny-llama",
      recipe: "fp32",
      backend: "portable",
      toolchain: "stable",
    });
    const run = await runLocalAction("export", { build, "out-dir": await tempDir() });
    expect(run.exitCode).toBe(2);
    expect(run.errors[0]).toBe(
      "pte-farm export: bad input: input build: cells: expected an array, got nothing (the field is missing) (expected one entry of the plan's builds output)",
    );
  });

  it("fails as bad input (exit 2) when the build's first cell belongs to another build", async () => {
    const build = JSON.stringify({
      model: "tiny-llama",
      recipe: "fp32",
      backend: "portable",
      toolchain: "stable",
      cells: ["tiny-llama/8da4w-g32/portable/host-x86_64@stable"],
    });
    const run = await runLocalAction("export", { build, "out-dir": await tempDir() });
    expect(run.exitCode).toBe(2);
    expect(run.errors[0]).toBe(
      "pte-farm export: bad input: input build: cell tiny-llama/8da4w-g32/portable/host-x86_64@stable is not a cell of the build tiny-llama/fp32/portable@stable",
    );
  });
});

const why = hasRealPython ? "" : " [SKIPPED here: needs the project venv (make setup)]";

describe.skipIf(!hasRealPython)("health under @github/local-action", () => {
  const env = { PTE_FARM_PYTHON: realPython };
  // One smoke-.pte cache for the file, so the build happens once and later checks hit it.
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(path.join(tmpdir(), "pte-farm-health-action-"));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it(`finds this host good: disk, memory, the stable pins, the stage imports and the smoke .pte pass; heat checks do not apply${why}`, async () => {
    const out = await tempDir();
    const run = await runLocalAction(
      "health",
      {
        device: "host-x86_64",
        "out-dir": out,
        "cache-dir": cache,
        "min-free-disk-mb": "1",
        "min-free-memory-mb": "1",
      },
      env,
    );
    expect(run.exitCode, run.stdout).toBe(0);
    const checks = {
      disk: "pass",
      memory: "pass",
      temperature: "skip",
      throttle: "skip",
      toolchain: "pass",
      "stages-import": "pass",
      "smoke-pte": "pass",
    };
    expect(run.outputs).toEqual({
      state: "good",
      report: path.join(out, "health.json"),
      checks: JSON.stringify(checks),
    });
    const report = JSON.parse(await readFile(path.join(out, "health.json"), "utf8"));
    expect(report).toMatchObject({ schema: "pte-farm/health@1", device: "host-x86_64", state: "good" });
    expect(report.checks.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual(
      Object.entries(checks),
    );
    expect(report.checks[4].data.packages.executorch).toBe(report.checks[4].data.pins.executorch);
    expect(run.summary).toContain("### pte-farm health: host-x86_64 is good");
  });

  it(`appends the report to the history input's store, where a good one lifts the device's quarantine${why}`, async () => {
    const store = await tempDir();
    const run = await runLocalAction(
      "health",
      {
        device: "host-x86_64",
        "out-dir": await tempDir(),
        "cache-dir": cache,
        "min-free-disk-mb": "1",
        "min-free-memory-mb": "1",
        history: `dir:${store}`,
      },
      env,
    );
    expect(run.exitCode, run.stdout).toBe(0);
    const stored = await new LocalFolderStore(store).listHealth();
    expect(stored.map((s) => [s.report.device, s.report.state])).toEqual([["host-x86_64", "good"]]);
    expect(run.stdout).toContain(`stored in dir:${store}: ${stored[0]?.path}`);
  });

  // @fault health-before-job | the health action asks for more free memory than the runner has | health is bad: the step fails (exit 3) naming the failed check, and says so in its state output
  it(`calls a runner bad and fails the step (exit 3) when memory is below the minimum${why}`, async () => {
    const run = await runLocalAction(
      "health",
      {
        device: "pi5",
        "out-dir": await tempDir(),
        "cache-dir": cache,
        "min-free-memory-mb": String(1024 * 1024 * 1024),
      },
      env,
    );
    expect(run.exitCode).toBe(3);
    expect(run.outputs.state).toBe("bad");
    expect(run.errors[0]).toMatch(
      /^runner health is bad for pi5: memory: \d+ MiB available, below the \d+ MiB needed$/,
    );
  });

  // @fault maintenance | a maintenance file on the runner, holding the reason | the health action reports maintenance with the file's reason and fails the step (exit 3)
  it(`puts a runner whose maintenance file exists in maintenance, with the file's reason${why}`, async () => {
    const flag = path.join(await tempDir(), "maintenance");
    await writeFile(flag, "reflashing the SD card (ops#12)\n");
    const run = await runLocalAction(
      "health",
      {
        device: "pi5",
        "out-dir": await tempDir(),
        "cache-dir": cache,
        "maintenance-file": flag,
        "min-free-disk-mb": "1",
      },
      env,
    );
    expect(run.exitCode).toBe(3);
    expect(run.outputs.state).toBe("maintenance");
    expect(run.errors[0]).toBe("runner health is maintenance for pi5: reflashing the SD card (ops#12)");
  });

  it("refuses a device the matrix does not define, listing the known ones (exit 2)", async () => {
    const run = await runLocalAction("health", { device: "pi6", "out-dir": await tempDir() }, env);
    expect(run.exitCode).toBe(2);
    expect(run.errors[0]).toMatch(
      /^pte-farm health: bad input: input device: unknown device "pi6"; known devices: host-x86_64, /,
    );
  });
});
