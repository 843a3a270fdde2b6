/**
 * The fvp driver end to end against a stand-in FVP (tests/fixtures/fvp/fvp-documented-output.sh):
 * a script that checks the command line against run_fvp.sh's documented flags and prints the
 * FVP's documented output, hard-faults, hangs or stops at its --timelimit. It is not the FVP (no
 * FVP runs here); the tests say so in their names.
 */
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { parse, parseJson } from "../actions/src/core/validate.ts";
import { fvpDriver } from "../actions/src/drivers/fvp/driver.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { executeData, stageResult } from "../actions/src/schemas/stage.ts";
import { driverRequest, FVP_STAND_IN, standInElf, U55_CELL, U85_CELL } from "./helpers/drivers.ts";
import { runLocalAction } from "./helpers/local-action.ts";
import { running } from "./helpers/processes.ts";

const DOC = "[stand-in FVP printing the FVP's documented output, not the FVP]";

/** A Corstone-300 request whose manifest names a bundled program, as an Ethos-U build's does. */
async function u55(behaviour: Record<string, string>, over: Parameters<typeof driverRequest>[1] = {}) {
  const req = await driverRequest(U55_CELL, { bpte: true, ...over });
  const elf = await standInElf(req.root, behaviour);
  req.settings = { ...req.settings, runner: elf, fvp: FVP_STAND_IN, ...over.settings };
  return { req, elf };
}

/** Waits (up to 5 s) for a killed process to be gone; signals are delivered asynchronously. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!(await running(pid))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe(`the fvp driver ${DOC}`, () => {
  it("passes a bundled-IO run and records NPU and CPU cycles and the PMU counters per inference, per rep", async () => {
    const { req, elf } = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" }, { reps: 2, warmup: 1 });
    const { step, telemetry } = await fvpDriver.execute(req);
    expect(step.kind, step.reason ?? "").toBe("ok");
    expect(telemetry.map((t) => t.label)).toEqual(["before-execute", "after-execute"]);
    const result = parseJson(
      stageResult,
      await readFile(path.join(step.dir, "result.json"), "utf8"),
      "result",
    );
    expect(result).toMatchObject({
      stage: "execute",
      status: "ok",
      toolchain: { executorch: null, runner: elf, fvp: FVP_STAND_IN },
    });
    const data = parse(executeData, result.data, "data");
    expect(data.prompts).toEqual([]);
    expect(data.metrics.npu_active_cycles).toEqual({
      unit: "cycles",
      better: "lower",
      samples: [247553, 247553],
      sample_flags: [[], []],
    });
    expect(data.metrics.cpu_cycles?.samples).toEqual([27433, 27433]);
    expect(data.metrics.ethosu_backend_cpu_cycles?.samples).toEqual([18301, 18301]);
    expect(data.metrics.cpu_wait_for_npu_cycles?.samples).toEqual([17890, 17890]);
    expect(data.metrics.pmu_axi0_rd_data_beat_received).toMatchObject({
      unit: "beats",
      samples: [41216, 41216],
    });
    expect(data.metrics.pmu_npu_idle).toMatchObject({ unit: "cycles", samples: [229, 229] });
    expect(data.metrics.pte_bytes?.samples).toEqual([23]);
    expect(data.driver).toMatchObject({
      name: "fvp",
      output_check: "bundled-io",
      details: {
        inferences: 1,
        npu_delegations: 1,
        placement: "semihosting",
        target: "corstone-300 ethos-u55-128",
      },
    });
    expect(Object.keys(data.driver?.unavailable ?? {}).sort()).toEqual([
      "decode_tokens_per_sec",
      "first_token_ms",
      "model_load_ms",
      "peak_rss_mb",
      "prefill_tokens_per_sec",
    ]);
    // The stand-in refused to run unless the bundled program sat in the semihosting folder under the name on its command line.
    const argv = (await readFile(`${elf}.argv`, "utf8")).split("\n");
    expect(argv).toContain(`cpu0.semihosting-cwd=${req.dir}`);
    expect(argv).toContain("cpu0.semihosting-cmd_line=executor_runner -m model.bpte -o out");
    expect(await readFile(path.join(req.dir, "model.bpte"), "utf8")).toBe("BP07 not a real bundled program");
    expect(existsSync(path.join(req.dir, "model.pte"))).toBe(false);
    expect(data.driver?.details).toMatchObject({ bundled_program: "model.bpte" });
  });

  it("launches the Corstone-320 for an Ethos-U85 device, with the .pte placed in memory, and reads its 7 counters", async () => {
    const req = await driverRequest(U85_CELL, { bpte: true });
    const elf = await standInElf(req.root, { log: "v1.4.1-format-u85-bundleio-pass.log" });
    req.settings = { ...req.settings, runner: elf, fvp: FVP_STAND_IN, pteAddress: "0x70000000" };
    const { step } = await fvpDriver.execute(req);
    expect(step.kind, step.reason ?? "").toBe("ok");
    const argv = (await readFile(`${elf}.argv`, "utf8")).split("\n");
    expect(argv).toEqual(
      expect.arrayContaining(["mps4_board.subsystem.ethosu.num_macs=256", "mps4_board.uart0.out_file=-"]),
    );
    expect(argv).toContain(`${path.join(req.root, "model.bpte")}@0x70000000`);
    const metrics = (step.data as { metrics: Record<string, unknown> }).metrics;
    expect(Object.keys(metrics).filter((m) => m.startsWith("pmu_"))).toHaveLength(7);
  });

  // @fault lost-device-result | an FVP log of a target hard fault | stage failure of the model, with the fault's registers in the message
  it("fails a hard fault as a stage failure of the model, with the fault's registers in the message", async () => {
    const { req } = await u55({ log: "core-platform-format-hard-fault.log" });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("stage-failure");
    expect(step.failure?.message).toMatch(
      /^stage execute failed in fvp \(stage-failure\): the target hard-faulted: Hard fault\. irq=-13, pc=0x10003a7c/,
    );
    expect(step.failure?.reproduce).toMatch(/fvp-documented-output\.sh -C ethosu\.num_macs=128 /);
    const result = JSON.parse(await readFile(path.join(step.dir, "result.json"), "utf8"));
    expect(result).toMatchObject({ status: "failed", error: { kind: "stage", package: "fvp" } });
  });

  // @fault timeout-kills-tree | an FVP stand-in that hangs past the step's 2 s deadline, with a child | the simulator and its child are killed; the step is a timeout
  it("kills a simulator that ignores its time limit, with its children, and calls it a timeout", async () => {
    const { req, elf } = await u55({ hang: "1" }, { timeoutS: 2 });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("timeout");
    expect(step.reason).toBe(
      "the FVP did not finish before the step's deadline; its process group was killed",
    );
    const child = Number(await readFile(`${elf}.child`, "utf8"));
    expect(await gone(child)).toBe(true);
  });

  it("passes what is left of its budget as --timelimit and calls the FVP stopping there a timeout", async () => {
    const { req, elf } = await u55({ timelimit: "1" }, { timeoutS: 2 });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("timeout");
    expect(step.reason).toBe("the FVP stopped at its --timelimit before the runner printed a Test_result");
    const [flag, seconds] = (await readFile(`${elf}.argv`, "utf8")).split("\n").slice(-3);
    expect(flag).toBe("--timelimit");
    // Whole seconds, within what is left of the step's 2 s budget.
    expect(["1", "2"]).toContain(seconds);
  });

  it("fails Test_result: FAIL as a stage failure", async () => {
    const { req } = await u55({ log: "v1.4.1-format-u55-bundleio-fail.log", exit: "0" });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("stage-failure");
    expect(step.reason).toMatch(/^Test_result: FAIL/);
  });

  // @fault lost-device-result | an FVP run that prints no Test_result | infrastructure failure naming the missing BundleIO, not a pass
  it("fails a run without Test_result (a runner built without BundleIO) as infrastructure", async () => {
    const { req } = await u55({ log: "executorch-v0.7.0-tutorial-corstone-fvp.log" });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("infra-failure");
    expect(step.reason).toMatch(/built without ET_BUNDLE_IO/);
  });

  it("runs the .pte when the manifest names no bundled program, and then blames the missing .bpte for a run without Test_result", async () => {
    const { req, elf } = await u55({ log: "executorch-v0.7.0-tutorial-corstone-fvp.log" }, { bpte: false });
    const { step } = await fvpDriver.execute(req);
    expect(step.kind).toBe("infra-failure");
    expect(step.reason).toMatch(
      /^the runner completed without a Test_result: the manifest names no bundled program/,
    );
    expect(await readFile(`${elf}.argv`, "utf8")).toContain("executor_runner -m model.pte -o out");
  });

  it("refuses a bundled program that is missing or unlike its manifest as infrastructure, before simulating", async () => {
    const missing = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" });
    await rm(path.join(missing.req.root, "model.bpte"));
    expect((await fvpDriver.execute(missing.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(
        /^the manifest names a bundled program .*model\.bpte, which is not on this machine$/,
      ),
    });
    const swapped = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" });
    await writeFile(path.join(swapped.req.root, "model.bpte"), "other bytes");
    expect((await fvpDriver.execute(swapped.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(
        /^refusing to execute .*model\.bpte: its sha256 \w+… does not match the manifest's/,
      ),
    });
    // The stand-in never ran: no simulation of a file that is not the build's.
    expect(existsSync(`${swapped.elf}.argv`)).toBe(false);
  });

  it("fails a missing FVP, a missing runner ELF, a .pte unlike its manifest and a runner from another ExecuTorch as infrastructure", async () => {
    const noFvp = await u55(
      { log: "v1.4.1-format-u55-bundleio-pass.log" },
      { settings: { fvp: "/nonexistent/FVP_Corstone_SSE-300_Ethos-U55" } },
    );
    expect((await fvpDriver.execute(noFvp.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(
        /^could not start \/nonexistent\/FVP_Corstone_SSE-300_Ethos-U55 \(ENOENT\)/,
      ),
    });

    const noElf = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" });
    noElf.req.settings.runner = path.join(noElf.req.root, "missing.elf");
    expect((await fvpDriver.execute(noElf.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(/missing\.elf does not exist on this machine/),
    });

    const swapped = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" });
    await writeFile(swapped.req.pte, "other bytes");
    expect((await fvpDriver.execute(swapped.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(
        /^refusing to execute .*model\.pte: its sha256 \w+… does not match the manifest's/,
      ),
    });

    const older = await u55(
      { log: "v1.4.1-format-u55-bundleio-pass.log" },
      { settings: { runnerExecutorch: "1.3.0" } },
    );
    expect((await fvpDriver.execute(older.req)).step).toMatchObject({
      kind: "infra-failure",
      reason: expect.stringMatching(
        /^toolchain mismatch: the \.pte was built with executorch 1\.4\.1, .* with executorch 1\.3\.0$/,
      ),
    });
  });

  it("refuses settings it cannot run: no runner ELF at all, or prompts to generate from", async () => {
    const { req } = await u55({ log: "v1.4.1-format-u55-bundleio-pass.log" });
    await expect(fvpDriver.execute({ ...req, settings: { ...req.settings, runner: "" } })).rejects.toThrow(
      /the fvp driver needs the bare-metal executor runner ELF: set the execute action's runner input or PTE_FARM_FVP_RUNNER/,
    );
    await expect(fvpDriver.execute({ ...req, promptIds: [[1, 2]] })).rejects.toThrow(ConfigurationError);
  });
});

describe(`the execute and gate actions on a Corstone-300 cell ${DOC}`, () => {
  it("execute picks the fvp driver from the matrix and gate records a pass checked on the device, with what it could not measure", async () => {
    const req = await driverRequest(U55_CELL, { bpte: true });
    const elf = await standInElf(req.root, { log: "v1.4.1-format-u55-bundleio-pass.log" });
    const out = path.join(req.root, "device-job");
    const execute = await runLocalAction("execute", {
      cell: U55_CELL,
      pte: req.pte,
      manifest: req.manifestPath,
      runner: elf,
      fvp: FVP_STAND_IN,
      reps: "2",
      warmup: "0",
      "out-dir": out,
    });
    expect(execute.exitCode, execute.stdout).toBe(0);
    expect(execute.summary).toContain(
      "2 reps after 0 warm-up; median 247553 NPU cycles per inference (fvp driver)",
    );
    expect(execute.summary).toContain(
      "not measurable with this driver: decode_tokens_per_sec, prefill_tokens_per_sec, first_token_ms, model_load_ms, peak_rss_mb",
    );
    const gate = await runLocalAction("gate", {
      cell: U55_CELL,
      execute: execute.outputs.result as string,
      manifest: req.manifestPath,
      "out-dir": out,
    });
    expect(gate.exitCode, gate.stdout).toBe(0);
    expect(gate.outputs).toMatchObject({ status: "pass" });
    const file = gate.outputs.record as string;
    const record = parseJson(runRecord, await readFile(file, "utf8"), file);
    expect(record).toMatchObject({
      status: "pass",
      gate: null,
      tokens: [],
      driver: { name: "fvp", output_check: "bundled-io", unavailable: { peak_rss_mb: expect.any(String) } },
    });
    expect(record.metrics.npu_active_cycles?.samples).toEqual([247553, 247553]);
    expect(record.metrics).not.toHaveProperty("peak_rss_mb");
  });

  // @fault no-record-lost | a hard fault on the FVP under the execute action, then the gate action | the gate records the cell as failed with the fault, not as missing
  it("a hard fault fails execute (exit 1) and gate records the cell as failed with the fault, not as missing", async () => {
    const req = await driverRequest(U55_CELL, { bpte: true });
    const elf = await standInElf(req.root, { log: "core-platform-format-hard-fault.log" });
    const out = path.join(req.root, "device-job");
    const execute = await runLocalAction("execute", {
      cell: U55_CELL,
      pte: req.pte,
      manifest: req.manifestPath,
      runner: elf,
      fvp: FVP_STAND_IN,
      "out-dir": out,
    });
    expect(execute.exitCode).toBe(1);
    expect(execute.errors[0]).toMatch(
      /^stage execute failed in fvp \(stage-failure\): the target hard-faulted/,
    );
    const gate = await runLocalAction("gate", { cell: U55_CELL, manifest: req.manifestPath, "out-dir": out });
    expect(gate.exitCode).toBe(1);
    const record = parseJson(runRecord, await readFile(gate.outputs.record as string, "utf8"), "record");
    expect(record).toMatchObject({ status: "fail", failure: { stage: "execute", outcome: "stage-failure" } });
  });
});
