import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { deviceStatus } from "../actions/src/health/quarantine.ts";
import { nextLook, type RunJob, type WatchedCell, watchCells } from "../actions/src/health/watchdog.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { loadFarm } from "../matrix/load.ts";
import { tempDir } from "./helpers/env.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { example } from "./helpers/github-repo-state.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const PI5 = ["self-hosted", "linux", "ARM64", "pi5"];
const cell = (id: string, device: string, max = 30): WatchedCell => ({
  cell: id,
  build: `b-${id.split("/")[1]}`,
  device,
  runs_on: device === "pi5" ? PI5 : ["ubuntu-24.04"],
  maxQueueMinutes: max,
});
const job = (name: string, status: string, createdAt: Date, labels = PI5): RunJob => ({
  name,
  status,
  created_at: createdAt.toISOString(),
  labels,
});

describe("the no-capacity watchdog's decisions", () => {
  const now = new Date("2026-12-06T03:00:00Z");
  const ago = (min: number) => new Date(now.getTime() - min * 60_000);

  it("a job queued past its device's limit has no runner; started, approval-waiting and unlisted jobs are left alone", () => {
    const cells = [
      cell("m/a/x/pi5@stable", "pi5"),
      cell("m/b/x/pi5@stable", "pi5"),
      cell("m/c/x/host-x86_64@stable", "host-x86_64"),
      cell("m/d/x/pi5@stable", "pi5"),
      cell("m/e/x/pi5@stable", "pi5"),
    ];
    const jobs = [
      job("device (m/a/x/pi5@stable, …) / m/a/x/pi5@stable", "queued", ago(31)),
      job("device (m/b/x/pi5@stable, …) / m/b/x/pi5@stable", "queued", ago(5)),
      job("m/c/x/host-x86_64@stable", "in_progress", ago(40), ["ubuntu-24.04"]),
      job("device (m/d/x/pi5@stable, …) / m/d/x/pi5@stable", "waiting", ago(300)),
      // a job named after another cell whose name ends like this one's does not match it
      job("device / xm/e/x/pi5@stable", "queued", ago(300)),
    ];
    const watch = watchCells(cells, jobs, now);
    expect(watch.map((w) => [w.cell.cell, w.state])).toEqual([
      ["m/a/x/pi5@stable", "no-runner"],
      ["m/b/x/pi5@stable", "queued"],
      ["m/c/x/host-x86_64@stable", "started"],
      ["m/d/x/pi5@stable", "awaiting-approval"],
      ["m/e/x/pi5@stable", "unlisted"],
    ]);
    expect(watch[0]).toMatchObject({ labels: PI5 });
    // Looked at again when b's 30 minutes are up (25 minutes from now), not before.
    expect(nextLook(watch)?.toISOString()).toBe(new Date(ago(5).getTime() + 30 * 60_000).toISOString());
    // The device's own limit: b's 5 minutes are its whole allowance on a 5-minute device.
    expect(watchCells([cell("m/b/x/pi5@stable", "pi5", 5)], jobs, now)[0]?.state).toBe("no-runner");
    expect(nextLook(watchCells(cells.slice(2), jobs, now))).toBeNull();
  });

  it("the matrix sets the limit: health.max_queue_minutes for every device, max_queue_minutes for one", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const limits = [...farm.devices.values()].map((d) => d.maxQueueMinutes);
    expect(new Set(limits)).toEqual(new Set([farm.health.maxQueueMinutes]));
    const file = path.join(await tempDir("pte-farm-watchdog-matrix-"), "farm.yml");
    const text = (await readFile(DEFAULT_MATRIX, "utf8"))
      .replace(/^health:\n/m, "health:\n  max_queue_minutes: 45\n")
      .replace(/( {2}pi5:\n)/, "$1    max_queue_minutes: 5\n");
    await writeFile(file, text);
    const custom = await loadFarm(file);
    expect(custom.devices.get("pi5")?.maxQueueMinutes).toBe(5);
    expect(custom.devices.get("m1")?.maxQueueMinutes).toBe(45);
  });
});

describe("pte-farm watchdog against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();
  const QUEUED = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";
  const SLOW = "tiny-llama/fp32/xnnpack/host-x86_64@stable";

  async function run(devices: unknown, env: Record<string, string>, extra: string[] = []) {
    const dir = await tempDir("pte-farm-watchdog-");
    const file = path.join(dir, "devices.json");
    await writeFile(file, typeof devices === "string" ? devices : JSON.stringify(devices));
    const output = path.join(dir, "github-output");
    await writeFile(output, "");
    const res = await execa(
      process.execPath,
      [CLI, "watchdog", "--devices", file, "--out", path.join(dir, "out"), "--role", "nightly", ...extra],
      { reject: false, all: true, env: { GITHUB_OUTPUT: output, ...env } },
    );
    return { ...res, dir, output: await readFile(output, "utf8") };
  }

  // @fault no-capacity | the API lists one device job queued for two hours and one that starts after the first look | the started one is left alone; the other gets an infra-error record "no runner online for [labels]" that the quarantine counts, and stuck=true | records 1/1
  it("watches a queued job until it starts, records the one no runner took as infra-error, and says so", async () => {
    const { server, owner, repo: name } = repo();
    const template = (example("actions/list-jobs-for-workflow-run-attempt", "200") as { jobs: object[] })
      .jobs[0];
    let looks = 0;
    server.handle("actions/list-jobs-for-workflow-run-attempt", (req) => {
      looks += 1;
      expect(req.params).toMatchObject({ run_id: 4242, attempt_number: 2 });
      const at = (min: number) => new Date(Date.now() - min * 60_000).toISOString();
      const jobs = [
        // queued for two hours: past the pi5's 30 minutes
        { name: `device (x) / ${QUEUED}`, status: "queued", created_at: at(120), labels: PI5 },
        // queued a moment ago; a runner takes it after the watchdog's first look
        {
          name: `device (y) / ${SLOW}`,
          status: looks === 1 ? "queued" : "in_progress",
          created_at: at(0.1),
          labels: ["ubuntu-24.04"],
        },
      ].map((j, i) => ({ ...template, id: i + 1, conclusion: null, completed_at: null, ...j }));
      return { status: 200, body: { total_count: jobs.length, jobs } };
    });
    const devices = {
      include: [
        { cell: QUEUED, build: "b1", device: "pi5", runs_on: PI5 },
        { cell: SLOW, build: "b2", device: "host-x86_64", runs_on: ["ubuntu-24.04"] },
      ],
    };
    const res = await run(
      devices,
      {
        GITHUB_API_URL: server.url,
        GITHUB_TOKEN: "ghs_test",
        GITHUB_REPOSITORY: `${owner}/${name}`,
        GITHUB_RUN_ID: "4242",
        GITHUB_RUN_ATTEMPT: "2",
        GITHUB_SHA: "a".repeat(40),
      },
      ["--poll-s", "0.2"],
    );
    expect(res.exitCode, res.all).toBe(0);
    expect(looks).toBe(2);
    expect(res.output).toContain("stuck=true\n");
    expect(res.output).toContain(`cells=${JSON.stringify([QUEUED])}\n`);
    expect(res.all).toContain(
      `::error title=no runner online::${QUEUED}: no runner online for [self-hosted, linux, ARM64, pi5]`,
    );

    const file = path.join(res.dir, "out", "b1-pi5", "run.json");
    const record = parseJson(runRecord, await readFile(file, "utf8"), file);
    expect(record).toMatchObject({
      status: "infra-error",
      role: "nightly",
      session: "gh-4242-2",
      git_sha: "a".repeat(40),
      cell: { id: QUEUED, device: "pi5" },
      device: { runner: "pi5", board: "raspberry-pi-5-8gb" },
      failure: { stage: "execute", outcome: "infra-failure" },
    });
    expect(record.failure?.message).toMatch(/waited 1[12]\d min in GitHub's queue \(limit 30 min/);
    // Counted toward the device's quarantine, as any infrastructure error on it.
    expect(deviceStatus("pi5", [record], [], 1)).toMatchObject({ quarantined: true, infra_streak: 1 });
    // Nothing for the cell that started.
    expect(res.all).toContain("1 of 2 device job(s) never started");
  });

  it("bad input is exit 2 before any request: devices that are not the plan's output, a cell not in the matrix, no run", async () => {
    const { server, owner, repo: name } = repo();
    const env = {
      GITHUB_API_URL: server.url,
      GITHUB_TOKEN: "t",
      GITHUB_REPOSITORY: `${owner}/${name}`,
      GITHUB_RUN_ID: "1",
    };
    const notJson = await run("{include", env);
    expect(notJson.exitCode).toBe(2);
    expect(notJson.all).toMatch(/--devices .*not JSON/);
    const notPlan = await run({ cells: [] }, env);
    expect(notPlan.exitCode).toBe(2);
    expect(notPlan.all).toContain(`expected the plan's devices output`);
    const unknown = await run(
      { include: [{ cell: "nope/fp32/x/pi5@stable", build: "b", device: "pi5" }] },
      env,
    );
    expect(unknown.exitCode).toBe(2);
    expect(unknown.all).toContain("nope/fp32/x/pi5@stable");
    const noRun = await run({ include: [] }, { ...env, GITHUB_RUN_ID: "" });
    expect(noRun.exitCode).toBe(2);
    expect(noRun.all).toContain("GITHUB_RUN_ID is not set");
    expect(server.requestsFor("actions/list-jobs-for-workflow-run-attempt")).toEqual([]);
  });
});
