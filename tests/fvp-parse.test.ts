/**
 * The fvp driver's parser and verdict on FVP output, captured (ExecuTorch's docs, issue #7568) and
 * assembled in v1.4.1's documented line formats (tests/fixtures/fvp/SOURCES.md), and the FVP
 * command line it builds for each Corstone, against the flags run_fvp.sh documents.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { checkAddress, fvpArgv, fvpTarget } from "../actions/src/drivers/fvp/command.ts";
import { fvpVerdict, parseFvpLog } from "../actions/src/drivers/fvp/parse.ts";

const log = async (name: string) =>
  parseFvpLog(await readFile(path.join(REPO_ROOT, "tests", "fixtures", "fvp", name), "utf8"));

describe("the FVP's UART output", () => {
  it("reads a v1.4.1 Ethos-U55 run: cycles, the four PMU counters with their events, Test_result PASS", async () => {
    const r = await log("v1.4.1-format-u55-bundleio-pass.log");
    expect(r).toMatchObject({
      testResults: ["PASS"],
      hardFault: null,
      timeLimitReached: false,
      errors: [],
      programComplete: true,
      inferences: 1,
      delegations: 1,
      ethosuBackendCpuCycles: 18301,
      cpuCycles: 27433,
      cpuWaitForNpuCycles: 17890,
      npuActiveCycles: 247553,
      memory: { method_allocator_used: 7421, method_allocator_planned: 3136, model_pte_program_size: 31696 },
    });
    expect(r.pmuCounters).toEqual([
      { index: 0, event: "ETHOSU_PMU_AXI0_RD_DATA_BEAT_RECEIVED", total: 41216 },
      { index: 1, event: "ETHOSU_PMU_AXI1_RD_DATA_BEAT_RECEIVED", total: 0 },
      { index: 2, event: "ETHOSU_PMU_AXI0_WR_DATA_BEAT_WRITTEN", total: 3072 },
      { index: 3, event: "ETHOSU_PMU_NPU_IDLE", total: 229 },
    ]);
    expect(fvpVerdict(r, false)).toEqual({ kind: "pass" });
  });

  it("reads the seven Ethos-U85 counters and their event names", async () => {
    const r = await log("v1.4.1-format-u85-bundleio-pass.log");
    expect(r.pmuCounters.map((c) => c.event)).toEqual([
      "ETHOSU_PMU_SRAM_RD_DATA_BEAT_RECEIVED",
      "ETHOSU_PMU_SRAM_WR_DATA_BEAT_WRITTEN",
      "ETHOSU_PMU_EXT_RD_DATA_BEAT_RECEIVED",
      "ETHOSU_PMU_EXT_WR_DATA_BEAT_WRITTEN",
      "ETHOSU_PMU_NPU_IDLE",
      "ETHOSU_PMU_MAC_ACTIVE",
      "ETHOSU_PMU_WD_ACTIVE",
    ]);
    expect(r.npuActiveCycles).toBe(118724);
  });

  it("reads the pre-1.0 format from ExecuTorch's own tutorial, and fails it for want of a Test_result", async () => {
    const r = await log("executorch-v0.7.0-tutorial-corstone-fvp.log");
    expect(r).toMatchObject({
      testResults: [],
      programComplete: true,
      inferences: 1,
      delegations: null,
      ethosuBackendCpuCycles: 1498202,
      cpuCycles: 6925114,
      cpuWaitForNpuCycles: 729,
      npuActiveCycles: 5920305,
    });
    expect(r.pmuCounters.map((c) => [c.event, c.total])).toEqual([
      ["ETHOSU_PMU_EXT0_RD_DATA_BEAT_RECEIVED", 359921],
      ["ETHOSU_PMU_EXT1_RD_DATA_BEAT_RECEIVED", 0],
      ["ETHOSU_PMU_EXT0_WR_DATA_BEAT_WRITTEN", 0],
      ["ETHOSU_PMU_NPU_IDLE", 503],
    ]);
    expect(fvpVerdict(r, false)).toMatchObject({
      kind: "infra-failure",
      message: expect.stringMatching(/completed without a Test_result: it was built without ET_BUNDLE_IO/),
    });
  });

  it("fails Test_result: FAIL as a stage failure (wrong outputs), not infrastructure", async () => {
    const r = await log("v1.4.1-format-u55-bundleio-fail.log");
    expect(r.testResults).toEqual(["FAIL"]);
    expect(r.errors).toHaveLength(4);
    expect(fvpVerdict(r, false)).toMatchObject({ kind: "stage-failure", message: /^Test_result: FAIL/ });
  });

  it("blames a hard fault on the target even though the simulator then ran out of time", async () => {
    const r = await log("core-platform-format-hard-fault.log");
    expect(r.timeLimitReached).toBe(true);
    expect(r.hardFault).toBe(
      "Hard fault. irq=-13, pc=0x10003a7c, lr=0x10001f45, xpsr=0x61000000, sp=0x3007ff70 " +
        "cfsr=0x00008200 bfar=0x7fffffe0 mmfar=0x7fffffe0",
    );
    expect(fvpVerdict(r, false)).toMatchObject({
      kind: "stage-failure",
      message: expect.stringMatching(/^the target hard-faulted: Hard fault\. irq=-13, pc=0x10003a7c/),
    });
  });

  it("calls the FVP's own time limit (issue #7568's real run) a timeout, not a model failure", async () => {
    const r = await log("executorch-issue-7568-fvp-timelimit.log");
    expect(r).toMatchObject({
      timeLimitReached: true,
      testResults: [],
      hardFault: null,
      programComplete: false,
    });
    expect(fvpVerdict(r, false)).toMatchObject({
      kind: "timeout",
      message: "the FVP stopped at its --timelimit before the runner printed a Test_result",
    });
  });

  it("calls a simulator we had to kill a timeout too", () => {
    expect(fvpVerdict(parseFvpLog("\n    Ethos-U rev 136b7d75\n"), true)).toMatchObject({ kind: "timeout" });
  });

  it("fails a runner that could not load the model (a missing operator) as a stage failure, with its errors", async () => {
    const verdict = fvpVerdict(await log("v1.4.1-format-missing-operator.log"), false);
    expect(verdict).toMatchObject({ kind: "stage-failure" });
    expect("message" in verdict && verdict.message).toMatch(/Missing operator: \[2\] aten::_softmax\.out/);
  });

  it("calls output with no result, error or fault infrastructure (the UART is not where we read)", () => {
    expect(
      fvpVerdict(parseFvpLog("telnetterminal0: Listening for serial connection on port 5000\n"), false),
    ).toMatchObject({
      kind: "infra-failure",
      message: expect.stringMatching(/is the UART on stdout/),
    });
  });

  it("reads lines whose runner prefix was stripped, and Windows line ends", () => {
    const r = parseFvpLog(
      "NPU Inferences : 2\r\nNPU delegations: 2 (1.00 per inference)\r\nethosu_pmu_cycle_cntr : 495106 (247553.00 per inference)\r\n" +
        "TEST: BundleIO index[0] Test_result: PASS\r\n",
    );
    expect(r).toMatchObject({
      inferences: 2,
      delegations: 2,
      npuActiveCycles: 495106,
      testResults: ["PASS"],
    });
  });
});

describe("the FVP command line", () => {
  it("launches a Corstone-300 Ethos-U55-128 as run_fvp.sh does, .pte over semihosting", () => {
    const target = fvpTarget("corstone-300-ethos-u55-128");
    expect(target).toEqual({
      executable: "FVP_Corstone_SSE-300_Ethos-U55",
      corstone: "300",
      npu: "ethos-u55",
      macs: 128,
    });
    const argv = fvpArgv({
      target,
      fvp: target.executable,
      elf: "/opt/runner/arm_executor_runner",
      placement: { kind: "semihosting", cwd: "/tmp/step", file: "model.pte" },
      timeLimitS: 600.7,
    });
    expect(argv).toEqual([
      "FVP_Corstone_SSE-300_Ethos-U55",
      "-C",
      "ethosu.num_macs=128",
      "-C",
      "mps3_board.visualisation.disable-visualisation=1",
      "-C",
      "mps3_board.telnetterminal0.start_telnet=0",
      "-C",
      "mps3_board.uart0.out_file=-",
      "-C",
      "mps3_board.uart0.shutdown_on_eot=1",
      "-C",
      "cpu0.semihosting-enable=1",
      "-C",
      "cpu0.semihosting-stack_base=0",
      "-C",
      "cpu0.semihosting-heap_limit=0",
      "-C",
      "cpu0.semihosting-cwd=/tmp/step",
      "-C",
      "cpu0.semihosting-cmd_line=executor_runner -m model.pte -o out",
      "-a",
      "/opt/runner/arm_executor_runner",
      "--timelimit",
      "600",
    ]);
  });

  it("launches a Corstone-320 Ethos-U85-256 with its mps4_board parameters, .pte placed in memory", () => {
    const target = fvpTarget("corstone-320-ethos-u85-256");
    const argv = fvpArgv({
      target,
      fvp: "FVP_Corstone_SSE-320",
      elf: "runner.elf",
      placement: { kind: "address", file: "/tmp/m.pte", address: checkAddress("0x70000000") },
      timeLimitS: 120,
    });
    expect(argv.join(" ")).toBe(
      "FVP_Corstone_SSE-320 -C mps4_board.subsystem.ethosu.num_macs=256 -C mps4_board.visualisation.disable-visualisation=1 " +
        "-C vis_hdlcd.disable_visualisation=1 -C mps4_board.telnetterminal0.start_telnet=0 -C mps4_board.uart0.out_file=- " +
        "-C mps4_board.uart0.unbuffered_output=1 -C mps4_board.uart0.shutdown_on_eot=1 -a runner.elf " +
        "--data /tmp/m.pte@0x70000000 --timelimit 120",
    );
  });

  it("names the matrix boards it understands when a device's board is not one", () => {
    expect(() => fvpTarget("raspberry-pi-5-8gb")).toThrow(ConfigurationError);
    expect(() => fvpTarget("raspberry-pi-5-8gb")).toThrow(
      /corstone-<300\|320>-<ethos-u55\|ethos-u65\|ethos-u85>-<MACs>/,
    );
    expect(() => fvpTarget("corstone-300-ethos-u85-256")).toThrow(/Corstone-300 carries Ethos-U55\/U65/);
    expect(() => checkAddress("70000000")).toThrow(/expected a hex address like 0x70000000/);
  });

  it("knows both FVP devices of the farm's matrix", () => {
    expect(fvpTarget("corstone-300-ethos-u55-128").executable).toBe("FVP_Corstone_SSE-300_Ethos-U55");
    expect(fvpTarget("corstone-320-ethos-u85-256")).toMatchObject({
      executable: "FVP_Corstone_SSE-320",
      macs: 256,
    });
  });
});
