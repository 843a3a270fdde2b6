/**
 * A cancelled job: GitHub's runner (or Ctrl-C) sends SIGINT to the farm's process. What runs — a
 * real stage, the FVP (a stand-in that ignores its time limit and keeps a child), a native runner
 * (a stand-in that sleeps with a child) — is killed with its whole process tree within a bound, the
 * cell is `cancelled` (never a failure or a regression), its logs are kept, and nothing of the
 * tree is left on the machine for the next job.
 */
import { existsSync } from "node:fs";
import { chmod, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { isCancelledReason } from "../actions/src/core/cancel.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { fvpDriver } from "../actions/src/drivers/fvp/driver.ts";
import { runProcess } from "../actions/src/drivers/process.ts";
import { cellStatus } from "../actions/src/records/build.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { driverRequest, FVP_STAND_IN, standInElf, U55_CELL } from "./helpers/drivers.ts";
import { hasRealPython, hasTinyLlama, tempDir } from "./helpers/env.ts";
import { running } from "./helpers/processes.ts";

async function waitFor(check: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose command line holds `marker` (the test's own folder), other than us. */
async function processesWith(marker: string): Promise<string[]> {
  const res = await execa("pgrep", ["-af", marker], { reject: false });
  return res.stdout.split("\n").filter((l) => l !== "" && !l.includes("pgrep"));
}

describe("a cancelled native program (stand-ins, not the real binaries)", () => {
  // @fault cancel | a cancel (SIGINT) while an FVP stand-in that ignores its time limit runs with a child | the stand-in and its child are killed; the step says cancelled
  it("the FVP stand-in that ignores its time limit is killed with its child, and the step says cancelled", async () => {
    const req = await driverRequest(U55_CELL, { bpte: true, timeoutS: 120 });
    const elf = await standInElf(req.root, { hang: "1" });
    req.settings = { ...req.settings, runner: elf, fvp: FVP_STAND_IN };
    const controller = new AbortController();
    req.cancel = controller.signal;
    const started = Date.now();
    const execution = fvpDriver.execute(req);
    await waitFor(() => existsSync(`${elf}.child`), 30_000);
    const child = Number(await readFile(`${elf}.child`, "utf8"));
    controller.abort("SIGINT received");
    const { step } = await execution;
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(step.kind).toBe("infra-failure");
    expect(step.reason).toBe("cancelled: SIGINT received; the FVP's process group was killed");
    expect(isCancelledReason(step.reason)).toBe(true);
    expect(await running(child)).toBe(false);
    // Logs are kept: the step's log holds what the simulator printed before it was killed.
    expect(await readFile(step.logPath ?? "", "utf8")).toContain("killed: SIGINT received");
  });

  it("a llama_main stand-in that sleeps with a child is killed within the grace period", async () => {
    const dir = await tempDir();
    const runner = path.join(dir, "llama_main");
    await writeFile(
      runner,
      `#!/usr/bin/env bash\n# stand-in for llama_main: loads "forever", with a child\nsleep 300 & echo $! > "${dir}/child"\nwait\n`,
    );
    await chmod(runner, 0o755);
    const log = await open(path.join(dir, "execute.log"), "w");
    const controller = new AbortController();
    const execution = runProcess([runner, "--model_path", "m.pte"], {
      cwd: dir,
      deadline: performance.now() + 120_000,
      log,
      cancel: controller.signal,
      graceMs: 5000,
    });
    await waitFor(() => existsSync(path.join(dir, "child")), 30_000);
    const child = Number(await readFile(path.join(dir, "child"), "utf8"));
    const t0 = Date.now();
    controller.abort("SIGTERM received");
    const result = await execution;
    await log.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(result).toMatchObject({ cancelled: true, timedOut: false });
    expect(await running(child)).toBe(false);
    // Not started at all once the run is cancelled.
    const log2 = await open(path.join(dir, "execute2.log"), "w");
    const again = await runProcess([runner], {
      cwd: dir,
      deadline: performance.now() + 1000,
      log: log2,
      cancel: controller.signal,
    });
    await log2.close();
    expect(again).toMatchObject({ cancelled: true, exitCode: null });
  });

  it("maps a cancelled step to the status cancelled, an infrastructure kill to infra-error", () => {
    const step = (reason: string) =>
      ({
        stage: "execute",
        label: "c",
        kind: "infra-failure",
        cache: "off",
        dir: "/x",
        logPath: null,
        wallMs: 1,
        result: null,
        data: null,
        reason,
        failure: null,
      }) as const;
    expect(cellStatus([step("cancelled: SIGINT received; its process group was killed")], null, null)).toBe(
      "cancelled",
    );
    expect(cellStatus([step("killed by SIGKILL, which pte-farm did not send")], null, null)).toBe(
      "infra-error",
    );
  });
});

const ready = hasRealPython && hasTinyLlama;

describe.skipIf(!ready)("pte-farm run, cancelled with SIGINT during a real stage", () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  // @fault cancel | SIGINT to `pte-farm run` while a real stage imports torch | the stage's tree is killed within seconds; the cell is recorded cancelled with its log; exit 3; no process left | records 1/1
  it("kills the stage's tree within seconds, records the cell as cancelled with its log, exits 3, and leaves no process behind", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "pte-farm-cancel-"));
    roots.push(root);
    const out = path.join(root, "run");
    const cli = execa(
      process.execPath,
      [
        path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
        "run",
        "--no-cache",
        "--cells",
        "tiny-llama/fp32/portable/host-x86_64@stable",
        "--out",
        out,
      ],
      { cwd: REPO_ROOT, reject: false },
    );
    const stageLog = path.join(out, "builds", "tiny-llama", "reference-fp32", "stage.log");
    await waitFor(() => existsSync(stageLog), 120_000);
    // The stage is importing torch by now: a real Python process tree to take down.
    await waitFor(async () => (await processesWith(out)).length > 0, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    process.kill(cli.pid as number, "SIGINT");
    const res = await cli;
    const took = Date.now() - t0;
    expect(res.exitCode, res.stderr).toBe(3);
    expect(took).toBeLessThan(15_000);
    expect(await processesWith(out)).toEqual([]);
    const cell = path.join(out, "cells", "tiny-llama", "fp32", "portable", "host-x86_64@stable", "run.json");
    const record = parseJson(runRecord, await readFile(cell, "utf8"), cell);
    expect(record.status).toBe("cancelled");
    expect(record.failure?.message).toContain("cancelled: SIGINT received");
    expect(record.failure?.triage).toMatch(/^cancelled, not a failure/);
    expect(existsSync(stageLog)).toBe(true);
    expect(res.stdout + res.stderr).toContain("cancelled");
  }, 300_000);
});
