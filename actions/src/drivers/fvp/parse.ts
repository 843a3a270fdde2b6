/**
 * What a Corstone FVP run of ExecuTorch's bare-metal executor runner printed on its UART (and the
 * simulator on its own streams). The runner's lines (examples/arm/executor_runner/, ExecuTorch
 * 0.5–1.4.1) look like `I [executorch:arm_perf_monitor.cpp:212 StopMeasurements()] message`
 * (`I [executorch:arm_perf_monitor.cpp:168] message` before 1.0); only the message is matched, so
 * captures with the prefix stripped parse too. Counters are totals over `NPU Inferences`; 1.x
 * also prints "(X per inference)", which is recomputed here rather than trusted to 2 decimals.
 *
 * Sources of each line (v1.4.1): arm_perf_monitor.cpp StopMeasurements() for the cycle and PMU
 * lines; arm_executor_runner.cpp for `Test_result` (only with ET_BUNDLE_IO), `Program complete`
 * and the allocator lines; Arm's core_platform HardFault_Handler for `Hard fault. irq=…`; the FVP
 * itself for `Info: Simulation is stopping. Reason: CPU time has been exceeded.` (--timelimit).
 */

export interface PmuCounter {
  index: number;
  /** From the `Ethos-U PMU Events:[...]` line; null when the runner printed none. */
  event: string | null;
  total: number;
}

export interface FvpReport {
  /** Every `Test_result:` the runner printed (one per bundled test set). */
  testResults: ("PASS" | "FAIL")[];
  /** The first hard-fault line and the register dump line after it, when the target faulted. */
  hardFault: string | null;
  /** The FVP stopped itself at its --timelimit. */
  timeLimitReached: boolean;
  /** Error and fatal log lines of the runner (`E [executorch:…`, `F [executorch:…`), in order. */
  errors: string[];
  programComplete: boolean;
  /** `NPU Inferences : n`: how many times the method ran (the divisor of every total below). */
  inferences: number | null;
  /** `NPU delegations: n`: command streams the NPU ran, over all inferences. */
  delegations: number | null;
  /** `Inference runtime: n CPU cycles total`: Cortex-M cycles in method->execute(). */
  cpuCycles: number | null;
  /** `ethos-u : cycle_cnt : n cycles`: Cortex-M cycles inside the Ethos-U backend's execute(). */
  ethosuBackendCpuCycles: number | null;
  /** `cpu_wait_for_npu_cntr : n CPU cycles`: Cortex-M cycles spent while the NPU ran. */
  cpuWaitForNpuCycles: number | null;
  /** `ethosu_pmu_cycle_cntr : n`: NPU cycles from NPU_ACTIVE to NPU_IDLE (the NPU's own counter). */
  npuActiveCycles: number | null;
  pmuCounters: PmuCounter[];
  /** `method_allocator_used: a / b` and friends, in bytes. */
  memory: Record<string, number>;
}

/** The message of a runner log line, or the line itself when it has no runner prefix. */
function message(line: string): string {
  return line.replace(/^[IWEDF] \[executorch:[^\]]*\]\s?/, "").trim();
}

function intAfter(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m?.[1] === undefined ? null : Number(m[1]);
}

export function parseFvpLog(log: string): FvpReport {
  const lines = log.replaceAll("\r", "").split("\n");
  const messages = lines.map(message);
  const all = messages.join("\n");
  const testResults = [...all.matchAll(/Test_result: (PASS|FAIL)\b/g)].map((m) => m[1] as "PASS" | "FAIL");
  const faultAt = messages.findIndex((m) => /hard ?fault/i.test(m));
  const hardFault =
    faultAt < 0
      ? null
      : [messages[faultAt], /cfsr=/.test(messages[faultAt + 1] ?? "") ? messages[faultAt + 1] : ""]
          .join(" ")
          .trim();
  const errors = lines.filter((l) => /^[EF] \[executorch:/.test(l)).map((l) => l.trim());
  const events =
    /Ethos-U PMU Events:\s*\[([^\]]*)\]/
      .exec(all)?.[1]
      ?.split(",")
      .map((e) => e.trim())
      .filter(Boolean) ?? [];
  const pmuCounters = [...all.matchAll(/ethosu_pmu_cntr(\d+)\s*:\s*(\d+)/g)].map((m) => {
    const index = Number(m[1]);
    return { index, event: events[index] ?? null, total: Number(m[2]) };
  });
  const memory: Record<string, number> = {};
  for (const m of all.matchAll(/^(method_allocator_\w+|model_pte_\w+_size|temp_allocator\w*):\s+(\d+)/gm)) {
    memory[m[1] as string] = Number(m[2]);
  }
  return {
    testResults,
    hardFault,
    timeLimitReached: /Simulation is stopping\. Reason: CPU time has been exceeded/.test(all),
    errors,
    programComplete: /Program complete, exiting\./.test(all),
    inferences: intAfter(all, /NPU Inferences\s*:\s*(\d+)/),
    delegations: intAfter(all, /NPU delegations:\s*(\d+)/),
    cpuCycles: intAfter(all, /Inference runtime:\s*(\d+) CPU cycles total/),
    ethosuBackendCpuCycles: intAfter(all, /ethos-u\s*:\s*cycle_cnt\s*:\s*(\d+) cycles/),
    cpuWaitForNpuCycles: intAfter(all, /cpu_wait_for_npu_cntr\s*:\s*(\d+) CPU cycles/),
    npuActiveCycles: intAfter(all, /ethosu_pmu_cycle_cntr\s*:\s*(\d+)/),
    pmuCounters,
    memory,
  };
}

export type FvpVerdict =
  | { kind: "pass" }
  | { kind: "stage-failure" | "infra-failure" | "timeout"; message: string; hint?: string };

/**
 * How the run ended, most specific cause first. A hard fault is the model's build on the target
 * (a stage failure) even when the simulator then ran into its time limit, since a faulted core
 * spins until the limit. A time limit alone is a timeout: the simulator cannot tell a slow model
 * from a hung one, and neither is reported as a model regression. `Test_result: FAIL` is a wrong
 * output; error lines without a result mean the runner could not run the model (a missing
 * operator, an arena too small). A clean exit with no result is a runner built without BundleIO
 * (infrastructure: nothing checked the outputs).
 */
export function fvpVerdict(r: FvpReport, killedAtDeadline: boolean): FvpVerdict {
  if (r.hardFault !== null) {
    return {
      kind: "stage-failure",
      message: `the target hard-faulted: ${r.hardFault}`,
      hint: "look up pc/lr in the runner ELF (arm-none-eabi-addr2line); arena sizes and unsupported operators are the usual causes",
    };
  }
  if (r.testResults.includes("FAIL")) {
    return {
      kind: "stage-failure",
      message: "Test_result: FAIL: the outputs differ from the reference outputs in the bundled program",
    };
  }
  if (r.testResults.length > 0) return { kind: "pass" };
  if (r.timeLimitReached || killedAtDeadline) {
    return {
      kind: "timeout",
      message: r.timeLimitReached
        ? "the FVP stopped at its --timelimit before the runner printed a Test_result"
        : "the FVP did not finish before the step's deadline; its process group was killed",
      hint: "raise timeout-s for a large model; a hang in the NPU driver looks the same",
    };
  }
  if (r.errors.length > 0) {
    return {
      kind: "stage-failure",
      message: `the runner failed on the target: ${r.errors.slice(0, 3).join(" | ")}`,
    };
  }
  if (r.programComplete) {
    return {
      kind: "infra-failure",
      message:
        "the runner completed without a Test_result: it was built without ET_BUNDLE_IO, so nothing checked the outputs",
      hint: "build the executor runner with -DET_BUNDLE_IO=ON and run a bundled program (.bpte)",
    };
  }
  return {
    kind: "infra-failure",
    message:
      "the simulation ended without a Test_result, an error or a fault: is the UART on stdout (-C …uart0.out_file=-)?",
  };
}
