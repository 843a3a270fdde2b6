import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeFailure, runStage } from "../actions/src/pipeline/stage-process.ts";
import { fakeStages, makeSpec, tempDir } from "./helpers/env.ts";

/** Alive means: exists and is not a zombie waiting for a reaper (containers may lack one). */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  return state !== "Z" && state !== "X";
}

describe("stage runner", () => {
  // @fault timeout-kills-tree | a fake stage with a child process that outlives the stage's timeout | the process group is killed, the outcome is timeout, the log is kept
  it("kills the whole process tree on timeout, reports `timeout` and keeps the log", async () => {
    const dir = await tempDir();
    const spec = makeSpec("export", { options: { fake: "sleep-with-child" } });
    const outcome = await runStage("export", {
      command: fakeStages,
      spec,
      dir,
      timeoutMs: 1500,
      graceMs: 1000,
    });
    expect(outcome.kind).toBe("timeout");
    const childPid = Number(await readFile(path.join(dir, "child.pid"), "utf8"));
    expect(await isAlive(childPid)).toBe(false);
    const log = await readFile(outcome.logPath, "utf8");
    expect(log).toContain("spawned sleep child");
    expect(outcome.wallMs).toBeLessThan(10_000);
  });

  it("escalates to SIGKILL when the stage and its child ignore SIGTERM", async () => {
    const dir = await tempDir();
    const spec = makeSpec("lower", { options: { fake: "stubborn-sleep-with-child" } });
    const outcome = await runStage("lower", {
      command: fakeStages,
      spec,
      dir,
      timeoutMs: 1500,
      graceMs: 500,
    });
    expect(outcome.kind).toBe("timeout");
    expect(outcome.signal).toBe("SIGKILL");
    const childPid = Number(await readFile(path.join(dir, "child.pid"), "utf8"));
    expect(await isAlive(childPid)).toBe(false);
  });

  it("classifies exit 2 as config-error and keeps the stage's error", async () => {
    const dir = await tempDir();
    const outcome = await runStage("quantize", {
      command: fakeStages,
      spec: makeSpec("quantize", { options: { fake: "config-error" } }),
      dir,
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("config-error");
    expect(outcome.exitCode).toBe(2);
    expect(outcome.result?.error?.kind).toBe("config");
  });

  it("classifies exit 1 as stage-failure; the message names stage, package and version, then the log tail", async () => {
    const dir = await tempDir();
    const outcome = await runStage("lower", {
      command: fakeStages,
      spec: makeSpec("lower", { options: { fake: "stage-failure" } }),
      dir,
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("stage-failure");
    const message = await describeFailure(outcome);
    const lines = message.split("\n");
    expect(lines[0]).toBe(
      "stage lower failed in executorch 1.4.1: RuntimeError: Missing out variants: {'torchao::quantize_affine'}",
    );
    expect(message).toContain("| log line 29");
    expect(message).not.toContain("| log line 10\n");
    expect(lines.filter((l) => l.startsWith("  | "))).toHaveLength(20);
    expect(lines.at(-1)).toMatch(/^ {2}log: .*stage\.log$/);
  });

  it("classifies a result.json that breaks its schema as infra-failure, naming the bad field", async () => {
    const outcome = await runStage("export", {
      command: fakeStages,
      spec: makeSpec("export", { options: { fake: "bad-result" } }),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("infra-failure");
    expect(outcome.reason).toMatch(/result\.json: data: bytes: expected a non-negative integer, got "many"$/);
  });

  it("classifies exit 0 without result.json as infra-failure", async () => {
    const outcome = await runStage("export", {
      command: fakeStages,
      spec: makeSpec("export", { options: { fake: "no-result" } }),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("infra-failure");
    expect(outcome.reason).toBe("exited 0 without writing result.json");
  });

  // @fault lost-device-result | a stage that kills itself with SIGKILL (a crash, no result) | infrastructure failure naming the signal, never a pass
  it("classifies death by a signal pte-farm did not send as infra-failure", async () => {
    const outcome = await runStage("execute", {
      command: fakeStages,
      spec: makeSpec("execute", { options: { fake: "self-kill" } }),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("infra-failure");
    expect(outcome.reason).toMatch(/^killed by SIGKILL, which pte-farm did not send/);
  });

  it("verifies declared artefacts: a sha256 that does not match the file is infra-failure", async () => {
    const ok = await runStage("export", {
      command: fakeStages,
      spec: makeSpec("export", { options: { fake: "ok-export" } }),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(ok.kind).toBe("ok");
    expect(ok.data?.bytes).toBe(20);
    const lying = await runStage("export", {
      command: fakeStages,
      spec: makeSpec("export", { options: { fake: "lying-artefact" } }),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(lying.kind).toBe("infra-failure");
    expect(lying.reason).toMatch(
      /^artefact program: .*program\.pt2 has sha256 [0-9a-f]{64}, result\.json says/,
    );
  });

  it("reports a missing interpreter as infra-failure telling how to point at one", async () => {
    const outcome = await runStage("export", {
      command: { ...fakeStages, python: "/nonexistent/python" },
      spec: makeSpec("export"),
      dir: await tempDir(),
      timeoutMs: 30_000,
    });
    expect(outcome.kind).toBe("infra-failure");
    expect(outcome.reason).toMatch(/could not start \/nonexistent\/python .*PTE_FARM_PYTHON/);
  });
});
