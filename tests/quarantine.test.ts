/**
 * Quarantine: which devices get no jobs, derived from run records and health reports in the
 * history store (actions/src/health/quarantine.ts), how `plan` leaves them out, where K comes from, and
 * that an infrastructure error is never turned into a verdict about a model along the way.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { loadCompareConfig } from "../actions/src/compare/config.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX } from "../actions/src/core/paths.ts";
import { deviceStates, deviceStatus, quarantinedDevices } from "../actions/src/health/quarantine.ts";
import { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { nightly } from "../actions/src/history/nightly.ts";
import type { HistoryStore } from "../actions/src/history/store.ts";
import type { CheckResult, HealthReport, HealthState } from "../actions/src/schemas/health-report.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { loadFarm } from "../matrix/load.ts";
import { plan } from "../matrix/plan.ts";
import { outcomeOf } from "../reports/cell-report.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const PI5_CELL = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";
const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 5, minute)).toISOString();

/** A run of the pi5 cell at minute `m`: executed on the board (an execute stage), with `status`. */
function run(m: number, status: RunRecord["status"], over: Partial<RunRecord> = {}): RunRecord {
  const r = record([100, 101, 99], { startedAt: at(m), session: `s${m}` });
  const executeOutcome = {
    pass: "ok",
    fail: "stage-failure",
    "infra-error": "infra-failure",
    timeout: "timeout",
    cancelled: "infra-failure",
  } as const;
  return {
    ...r,
    cell: {
      id: PI5_CELL,
      model: "tiny-llama",
      recipe: "8da4w-g32",
      backend: "xnnpack",
      device: "pi5",
      toolchain: "stable",
    },
    role: "nightly",
    status,
    finished_at: at(m),
    stages: [
      { stage: "lower", outcome: "ok", cache: "hit", wall_s: 1, dir: "/x/lower", log: null },
      {
        stage: "execute",
        outcome: executeOutcome[status],
        cache: "off",
        wall_s: 1,
        dir: "/x/execute",
        log: null,
      },
    ],
    metrics: status === "pass" ? r.metrics : {},
    ...over,
  };
}

/** A build-stage infrastructure error: the build runner's, not the board's (no execute stage). */
function buildInfra(m: number): RunRecord {
  return run(m, "infra-error", {
    stages: [
      { stage: "export", outcome: "infra-failure", cache: "miss", wall_s: 1, dir: "/x/export", log: null },
    ],
  });
}

function health(
  m: number,
  state: HealthState,
  checks: CheckResult[] = [],
  maintenance: string | null = null,
): HealthReport {
  return {
    schema: "pte-farm/health@1",
    device: "pi5",
    toolchain: "stable",
    state,
    checked_at: at(m),
    maintenance,
    checks,
  };
}

describe("quarantine from the history", () => {
  // @fault quarantine | K infra-error and timeout runs in a row in the device's history | the device is quarantined with the count and the last error as the reason; K−1 are not enough
  it("quarantines a device after K infrastructure errors in a row on it, naming the count and the last one", () => {
    const runs = [run(1, "pass"), run(2, "infra-error"), run(3, "timeout")];
    expect(deviceStatus("pi5", runs, [], 3)).toMatchObject({
      quarantined: false,
      infra_streak: 2,
      reason: null,
    });
    const s = deviceStatus("pi5", [...runs, run(4, "infra-error")], [], 3);
    expect(s).toMatchObject({ quarantined: true, infra_streak: 3 });
    expect(s.reason).toBe(`3 infrastructure errors in a row (last: ${PI5_CELL} infra-error at ${at(4)})`);
    expect(deviceStatus("pi5", [...runs, run(4, "infra-error")], [], 4).quarantined).toBe(false);
  });

  it("resets the count on a run that reached a verdict, a model failure included", () => {
    const runs = [
      run(1, "infra-error"),
      run(2, "infra-error"),
      run(3, "fail"),
      run(4, "infra-error"),
      run(5, "infra-error"),
    ];
    expect(deviceStatus("pi5", runs, [], 3)).toMatchObject({ quarantined: false, infra_streak: 2 });
  });

  it("never quarantines for model failures: K failing runs on the board are the model's problem", () => {
    const runs = [1, 2, 3, 4, 5].map((m) => run(m, "fail"));
    expect(deviceStatus("pi5", runs, [], 3)).toMatchObject({ quarantined: false, infra_streak: 0 });
  });

  // @fault cancel | cancelled runs between a board's infrastructure errors | not counted against the board: it stays in service
  it("does not count build-stage infrastructure errors or cancelled runs against the board", () => {
    const runs = [
      run(1, "infra-error"),
      buildInfra(2),
      run(3, "cancelled"),
      buildInfra(4),
      run(5, "infra-error"),
    ];
    expect(deviceStatus("pi5", runs, [], 3)).toMatchObject({ quarantined: false, infra_streak: 2 });
  });

  it("counts only the named device's runs", () => {
    const other = (m: number) => ({
      ...run(m, "infra-error"),
      cell: { ...run(m, "pass").cell, device: "m1", id: "x/y/z/m1@stable" },
    });
    expect(deviceStatus("pi5", [other(1), other(2), other(3)], [], 3).quarantined).toBe(false);
    expect(deviceStatus("m1", [other(1), other(2), other(3)], [], 3).quarantined).toBe(true);
  });

  // @fault quarantine | a stored bad (throttled) or unknown (no thermal zone) health report | quarantined with the failing check as the reason; a passing run does not lift it, a good check does
  it("quarantines on a bad or unknown health check, with the failing checks, until a good one lifts it", () => {
    const failed: CheckResult = {
      name: "throttle",
      status: "fail",
      detail: "vcgencmd get_throttled=0x50000: under_voltage_occurred",
    };
    const bad = deviceStatus(
      "pi5",
      [],
      [health(1, "bad", [failed, { name: "disk", status: "pass", detail: "ok" }])],
      3,
    );
    expect(bad).toMatchObject({ quarantined: true, health: { state: "bad", checked_at: at(1) } });
    expect(bad.reason).toBe(
      `health check bad at ${at(1)} (throttle: vcgencmd get_throttled=0x50000: under_voltage_occurred)`,
    );
    const missing: CheckResult = {
      name: "temperature",
      status: "unknown",
      detail: "no readable thermal zone",
    };
    expect(deviceStatus("pi5", [], [health(1, "unknown", [missing])], 3).reason).toBe(
      `health check unknown at ${at(1)} (temperature: no readable thermal zone)`,
    );
    // A run that passes while quarantined (run by hand) does not lift it: only a health check does.
    expect(deviceStatus("pi5", [run(2, "pass")], [health(1, "bad", [failed])], 3).quarantined).toBe(true);
    expect(
      deviceStatus("pi5", [run(2, "pass")], [health(1, "bad", [failed]), health(3, "good")], 3),
    ).toMatchObject({
      quarantined: false,
      reason: null,
      health: { state: "good", checked_at: at(3) },
    });
  });

  it("lifts an infrastructure quarantine on a good check and counts afresh after it", () => {
    const errors = [run(1, "infra-error"), run(2, "infra-error"), run(3, "infra-error")];
    expect(deviceStatus("pi5", errors, [health(4, "good")], 3)).toMatchObject({
      quarantined: false,
      infra_streak: 0,
    });
    const again = [...errors, run(5, "infra-error"), run(6, "infra-error")];
    expect(deviceStatus("pi5", again, [health(4, "good")], 3)).toMatchObject({
      quarantined: false,
      infra_streak: 2,
    });
  });

  it("keeps counting across good pre-flight checks, so a board that passes its checks but loses every run is still caught", () => {
    const runs = [run(2, "infra-error"), run(4, "infra-error"), run(6, "infra-error")];
    const preflights = [health(1, "good"), health(3, "good"), health(5, "good")];
    // The check at 5 precedes the third error: the count is 3, as if no check had been stored.
    expect(deviceStatus("pi5", runs, preflights, 3)).toMatchObject({ quarantined: true, infra_streak: 3 });
  });

  // @fault maintenance | a health report in maintenance with an operator's reason | out of service with "in maintenance since …: <reason>" until a later check
  it("takes a device in maintenance out of service with the person's reason, until a later check", () => {
    const m = health(1, "maintenance", [], "reflashing the SD card (ops#12)");
    expect(deviceStatus("pi5", [], [m], 3).reason).toBe(
      `in maintenance since ${at(1)}: reflashing the SD card (ops#12)`,
    );
    expect(deviceStatus("pi5", [], [m, health(2, "good")], 3).quarantined).toBe(false);
  });

  it("leaves a device that was never checked and never failed in service", () => {
    const states = deviceStates(["pi5", "m1"], [run(1, "pass")], [], 3);
    expect(states.devices.map((d) => [d.device, d.quarantined, d.health])).toEqual([
      ["pi5", false, null],
      ["m1", false, null],
    ]);
    expect(quarantinedDevices(states).size).toBe(0);
  });
});

describe("infrastructure errors are never model regressions", () => {
  // @fault infra-not-regression | K infra-error nights after good ones | the board is quarantined; no candidate or issue; the report calls it infrastructure; the plan skips it with the quarantine's reason
  it("K infra nights after good ones quarantine the board, open no issue, and report as infra, not regression", async () => {
    const good = [1, 2, 3, 4, 5, 6].map((m) => run(m, "pass"));
    const infra = [7, 8, 9].map((m) => run(m, "infra-error"));
    const history = [...good, ...infra];
    const last = infra.at(-1) as RunRecord;

    const status = deviceStatus("pi5", history, [], 3);
    expect(status.quarantined).toBe(true);
    // The nightly bookkeeping decides nothing from them: no candidate, no issue opened or closed.
    const night = nightly({ history, tonight: [last], config: await loadCompareConfig() });
    expect(night.candidates).toEqual([]);
    expect(night.actions).toEqual([]);
    expect(night.notes).toEqual([
      `${PI5_CELL}: tonight's run ended infra-error; its issues are left as they were`,
    ]);
    // A report shows the run as infrastructure, even against a passing base.
    expect(outcomeOf({ head: last, base: good[0] ?? null })).toBe("infra");
    // The plan skips the board's cells with the quarantine's reason, not a known issue.
    const farm = await loadFarm(DEFAULT_MATRIX);
    const p = plan(farm, {
      event: "push",
      quarantined: quarantinedDevices(deviceStates(["pi5"], history, [], 3)),
    });
    expect(p.skipped.find((s) => s.cell === PI5_CELL)).toEqual({
      cell: PI5_CELL,
      reason: `quarantined: ${status.reason}`,
      known_issue: null,
    });
  });
});

describe("plan with quarantined devices", () => {
  it("gives a quarantined device no build or device jobs and lists its cells as skipped; the rest is unchanged", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const free = plan(farm, { event: "push" });
    const held = plan(farm, {
      event: "push",
      quarantined: new Map([["pi5", "health check bad at T (disk: full)"]]),
    });
    expect(free.devices.map((d) => d.cell)).toContain(PI5_CELL);
    expect(held.devices.map((d) => d.cell)).toEqual(
      free.devices.map((d) => d.cell).filter((c) => c !== PI5_CELL),
    );
    expect(held.selection.map((s) => s.cell)).not.toContain(PI5_CELL);
    // The pi5 cell's arm64 build also served host-arm64: it stays, without the pi5 cell.
    const pi5Build = free.devices.find((d) => d.cell === PI5_CELL)?.build;
    const kept = held.builds.find((b) => b.build === pi5Build);
    expect(kept?.cells).toEqual(
      free.builds.find((b) => b.build === pi5Build)?.cells.filter((c) => c !== PI5_CELL),
    );
    expect(held.skipped).toEqual([
      ...free.skipped,
      { cell: PI5_CELL, reason: "quarantined: health check bad at T (disk: full)", known_issue: null },
    ]);
  });

  it("drops a build whose every cell is on quarantined devices", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const held = plan(farm, {
      event: "release",
      quarantined: new Map([
        ["pi5", "x"],
        ["m1", "y"],
      ]),
    });
    expect(held.builds).toEqual([]);
    expect(held.devices).toEqual([]);
    expect(held.skipped.filter((s) => s.reason.startsWith("quarantined: ")).length).toBeGreaterThan(0);
  });

  it("`pte-farm plan --history dir:` reads the store and skips the quarantined board's cells", async () => {
    const root = await tempDir();
    const store = new LocalFolderStore(root);
    await store.append([run(1, "infra-error"), run(2, "timeout"), run(3, "infra-error")]);
    const logger = new RecordingLogger();
    const code = await main(["plan", "--event", "push", "--history", `dir:${root}`], logger);
    expect(code).toBe(0);
    const out = JSON.parse(
      logger.lines
        .filter((l) => l.level === "info")
        .map((l) => l.message)
        .join("\n"),
    );
    expect(out.devices.include.map((d: { cell: string }) => d.cell)).not.toContain(PI5_CELL);
    expect(out.skipped).toContainEqual({
      cell: PI5_CELL,
      reason: `quarantined: 3 infrastructure errors in a row (last: ${PI5_CELL} infra-error at ${at(3)})`,
      known_issue: null,
    });
    expect(logger.lines).toContainEqual({
      level: "warn",
      message: `device pi5 is quarantined: 3 infrastructure errors in a row (last: ${PI5_CELL} infra-error at ${at(3)})`,
    });
    // A good health check stored after them lifts it.
    await store.appendHealth([health(4, "good")]);
    const after = new RecordingLogger();
    expect(await main(["plan", "--event", "push", "--history", `dir:${root}`], after)).toBe(0);
    expect(JSON.parse(after.text()).devices.include.map((d: { cell: string }) => d.cell)).toContain(PI5_CELL);
  });

  it("refuses a malformed --history with what to write instead (exit 2)", async () => {
    const logger = new RecordingLogger();
    expect(await main(["plan", "--event", "push", "--history", "/tmp/x"], logger)).toBe(2);
    expect(logger.text()).toContain("expected dir:PATH (a folder), git:REPO[#branch]");
  });
});

async function gitRepo(): Promise<string> {
  const dir = await tempDir();
  await execa("git", ["init", "--quiet", dir]);
  return dir;
}

describe.each([
  ["a folder", async (): Promise<HistoryStore> => new LocalFolderStore(await tempDir())],
  ["a git data branch", async (): Promise<HistoryStore> => new GitBranchStore(await gitRepo())],
])("health reports in the history store (%s)", (_, open) => {
  it("keeps health reports beside run records without mixing them into either listing", async () => {
    const store = await open();
    await store.append([run(1, "infra-error")]);
    const paths = await store.appendHealth([health(3, "good"), health(2, "bad")]);
    expect(paths[0]).toMatch(/^_health\/pi5\/2026-11-23T05-03-00\.000Z-good-[0-9a-f]{8}\.json$/);
    expect((await store.list()).map((s) => s.record.status)).toEqual(["infra-error"]);
    expect((await store.listHealth()).map((h) => h.report.state)).toEqual(["bad", "good"]);
    expect(await store.listHealth("m1")).toEqual([]);
    // Appending the same report again (a retried job) adds nothing.
    await store.appendHealth([health(3, "good")]);
    expect((await store.listHealth("pi5")).length).toBe(2);
  });
});

describe("the farm's health section", () => {
  const farmWith = async (edit: (t: string) => string) => {
    const file = path.join(await tempDir(), "farm.yml");
    await writeFile(file, edit(await readFile(DEFAULT_MATRIX, "utf8")));
    return file;
  };

  it("reads K and the temperature limit from matrix/farm.yml, with defaults when the section is absent", async () => {
    expect((await loadFarm(DEFAULT_MATRIX)).health).toEqual({
      quarantineAfter: 3,
      maxTempC: 80,
      maxQueueMinutes: 30,
    });
    const two = await farmWith((t) =>
      t.replace("quarantine_after_infra_errors: 3", "quarantine_after_infra_errors: 2"),
    );
    expect((await loadFarm(two)).health.quarantineAfter).toBe(2);
    const none = await farmWith((t) => t.slice(0, t.indexOf("\n# Runner health")));
    expect((await loadFarm(none)).health).toEqual({ quarantineAfter: 3, maxTempC: 80, maxQueueMinutes: 30 });
  });

  it("rejects a K below 1 and an unknown key, naming file:line:col", async () => {
    const zero = await farmWith((t) =>
      t.replace("quarantine_after_infra_errors: 3", "quarantine_after_infra_errors: 0"),
    );
    await expect(loadFarm(zero)).rejects.toThrow(/farm\.yml:\d+:\d+: .*quarantine_after_infra_errors/);
    const typo = await farmWith((t) => t.replace("max_temp_c: 80", "max_temp: 80"));
    await expect(loadFarm(typo)).rejects.toThrow(
      /farm\.yml:\d+:\d+: .*unknown key "max_temp"; allowed keys: quarantine_after_infra_errors, max_temp_c/,
    );
  });
});
