/**
 * The `fvp` driver: a Corstone FVP (FVP_Corstone_SSE-300_Ethos-U55, FVP_Corstone_SSE-320) running
 * ExecuTorch's bare-metal executor runner on the `.pte`, one simulation per rep, UART on stdout.
 * The runner must be built with ET_BUNDLE_IO and given a bundled program: it then checks the
 * outputs against the reference outputs inside it and prints `Test_result: PASS`, the only thing
 * this driver counts as success (parse.ts says how everything else ends). The bundled program is
 * the `.bpte` the lower stage writes beside an Ethos-U build's manifest (its `bpte` block); it
 * carries the same program as the `.pte`, so both hashes are checked before it runs.
 *
 * What it measures is simulated: NPU cycles (the FVP is cycle-accurate for the NPU, not for the
 * CPU), Cortex-M cycles and the Ethos-U PMU counters, per inference. Wall-clock metrics (tokens/s,
 * load time) and process RSS do not exist on a simulated bare-metal target; the record says so.
 */

import { access, copyFile, stat } from "node:fs/promises";
import path from "node:path";
import { cancelledReason, runCancelled } from "../../core/cancel.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { sha256File } from "../../core/hashing.ts";
import { type DriverRequest, type DriverRun, type ExecuteDriver, nativeToolchain } from "../driver.ts";
import { DriverFailure, type NativeContext, runNativeStep } from "../native-step.ts";
import { runProcess } from "../process.ts";
import { MetricCollector, type Value } from "../rep-metrics.ts";
import { checkAddress, type FvpTarget, fvpArgv, fvpTarget, type PtePlacement } from "./command.ts";
import { type FvpReport, fvpVerdict, parseFvpLog } from "./parse.ts";

/** The environment variable provisioning sets to the executor runner ELF (runners/corstone-fvp). */
export const FVP_RUNNER_ENV = "PTE_FARM_FVP_RUNNER";

/**
 * After the FVP's own --timelimit, how long it gets to stop by itself (and print why) before its
 * process group is killed: a tenth of the budget, between 2 and 15 s.
 */
function stopGraceMs(timeoutS: number): number {
  return Math.min(15_000, Math.max(2_000, timeoutS * 100));
}

const NO_WALL_CLOCK =
  "simulated: the FVP's wall clock times the simulator, not the device (see npu_active_cycles and cpu_cycles)";

const UNAVAILABLE: Record<string, string> = {
  decode_tokens_per_sec:
    "the bare-metal executor runner runs the method once per inference; it generates no tokens",
  prefill_tokens_per_sec:
    "the bare-metal executor runner runs the method once per inference; it generates no tokens",
  first_token_ms: "the bare-metal executor runner generates no tokens",
  model_load_ms: NO_WALL_CLOCK,
  peak_rss_mb:
    "a bare-metal target has no process RSS; the runner's allocator use is in driver.details.memory",
};

function unit(event: string): string {
  if (/BEAT/.test(event)) return "beats";
  if (/IDLE|ACTIVE|CYCLE/.test(event)) return "cycles";
  return "events";
}

function perInference(total: number | null, r: FvpReport, line: string): Value {
  if (total === null) {
    return { missing: `the runner printed no \`${line}\` line (built without the Ethos-U PMU report?)` };
  }
  const n = r.inferences ?? 1;
  return n > 0 ? { value: total / n } : { missing: "the runner reported 0 inferences" };
}

/** What the runner is given: the manifest's bundled program if it names one, else the `.pte`. */
interface FvpProgram {
  file: string;
  bundled: boolean;
}

function programFor(req: DriverRequest): FvpProgram {
  const bpte = req.manifest.bpte;
  return bpte === undefined
    ? { file: req.pte, bundled: false }
    : { file: path.join(path.dirname(req.manifestPath), bpte.file), bundled: true };
}

/** The `.bpte` is the build's, whole: a missing or altered one is the job's plumbing, not the model. */
async function checkBundle(req: DriverRequest, program: FvpProgram): Promise<void> {
  const want = req.manifest.bpte?.sha256;
  if (!program.bundled || want === undefined) return;
  const got = await sha256File(program.file).catch(() => null);
  if (got === null) {
    throw new DriverFailure(
      "infra-failure",
      `the manifest names a bundled program ${program.file}, which is not on this machine`,
      {
        hint: "download the build's .bpte beside its manifest.json (farm-build.yml uploads build/model.bpte)",
      },
    );
  }
  if (got !== want) {
    throw new DriverFailure(
      "infra-failure",
      `refusing to execute ${program.file}: its sha256 ${got.slice(0, 16)}… does not match the manifest's ` +
        `${want.slice(0, 16)}…; the file was corrupted or replaced after lowering`,
      { hint: "rebuild it (pte-farm run --no-cache) or download it again" },
    );
  }
}

async function simulate(ctx: NativeContext, argv: string[], bundled: boolean): Promise<FvpReport> {
  const p = await runProcess(argv, {
    cwd: ctx.req.dir,
    deadline: ctx.deadline + stopGraceMs(ctx.req.timeoutS),
    log: ctx.logFile,
    cancel: ctx.req.cancel ?? runCancelled,
  });
  if (p.cancelled) {
    throw new DriverFailure(
      "infra-failure",
      cancelledReason(ctx.req.cancel ?? runCancelled, "the FVP's process group was killed"),
      {
        process: p,
      },
    );
  }
  if (p.spawnError !== null) {
    throw new DriverFailure(
      "infra-failure",
      `could not start ${argv[0]} (${p.spawnError}); install the FVP (runners/corstone-fvp) or set the execute action's fvp input`,
      { process: p },
    );
  }
  const report = parseFvpLog(`${p.stdout}\n${p.stderr}`);
  if (p.signal !== null && !p.timedOut && report.hardFault === null) {
    throw new DriverFailure(
      "infra-failure",
      `the FVP was killed by ${p.signal}, which pte-farm did not send (out of memory?)`,
      { process: p },
    );
  }
  const verdict = fvpVerdict(report, p.timedOut);
  if (verdict.kind === "infra-failure" && report.programComplete && !bundled) {
    throw new DriverFailure(
      "infra-failure",
      "the runner completed without a Test_result: the manifest names no bundled program (.bpte), so the plain " +
        ".pte ran with nothing to check its outputs against",
      { process: p, hint: "rebuild with this lower stage, which writes model.bpte for Ethos-U backends" },
    );
  }
  if (verdict.kind !== "pass") {
    throw new DriverFailure(verdict.kind, verdict.message, {
      process: p,
      ...(verdict.hint === undefined ? {} : { hint: verdict.hint }),
    });
  }
  return report;
}

function collectRep(collect: MetricCollector, r: FvpReport): void {
  collect.add(
    "npu_active_cycles",
    "cycles",
    "lower",
    perInference(r.npuActiveCycles, r, "ethosu_pmu_cycle_cntr"),
  );
  collect.add("cpu_cycles", "cycles", "lower", perInference(r.cpuCycles, r, "Inference runtime"));
  collect.add(
    "ethosu_backend_cpu_cycles",
    "cycles",
    "lower",
    perInference(r.ethosuBackendCpuCycles, r, "ethos-u : cycle_cnt"),
  );
  collect.add(
    "cpu_wait_for_npu_cycles",
    "cycles",
    "lower",
    perInference(r.cpuWaitForNpuCycles, r, "cpu_wait_for_npu_cntr"),
  );
  for (const c of r.pmuCounters) {
    const name =
      c.event === null
        ? `ethosu_pmu_cntr${c.index}`
        : `pmu_${c.event.replace(/^ETHOSU_PMU_/, "").toLowerCase()}`;
    collect.add(
      name,
      c.event === null ? "events" : unit(c.event),
      "lower",
      perInference(c.total, r, `ethosu_pmu_cntr${c.index}`),
    );
  }
}

async function runFvp(req: DriverRequest): Promise<DriverRun> {
  if (req.promptIds.length > 0) {
    throw new ConfigurationError(
      `cell ${req.cell.id}: the fvp driver runs a bare-metal executor runner, one forward pass per inference; ` +
        `it cannot generate tokens for ${req.cell.model.name} (${req.cell.model.kind})`,
    );
  }
  const target: FvpTarget = fvpTarget(req.cell.device.board);
  const fvp = req.settings.fvp || target.executable;
  const elf = req.settings.runner || process.env[FVP_RUNNER_ENV] || "";
  if (elf === "") {
    throw new ConfigurationError(
      `the fvp driver needs the bare-metal executor runner ELF: set the execute action's runner input or ${FVP_RUNNER_ENV} ` +
        "(runners/corstone-fvp builds it with ET_BUNDLE_IO)",
    );
  }
  const program = programFor(req);
  const file = path.basename(program.file);
  const placement: PtePlacement =
    req.settings.pteAddress === ""
      ? { kind: "semihosting", cwd: req.dir, file }
      : { kind: "address", file: program.file, address: checkAddress(req.settings.pteAddress) };
  const argvAt = (timeLimitS: number) => fvpArgv({ target, fvp, elf, placement, timeLimitS });
  const spec = {
    driver: "fvp",
    runner: elf,
    toolchain: { ...nativeToolchain(req.settings, elf), fvp },
    plan: { target, program: program.file, command: argvAt(req.timeoutS) },
  };
  return runNativeStep(req, spec, async (ctx) => {
    if (
      !(await access(elf).then(
        () => true,
        () => false,
      ))
    ) {
      throw new DriverFailure(
        "infra-failure",
        `the executor runner ELF ${elf} does not exist on this machine`,
        {
          hint: "provision the runner (runners/corstone-fvp) or fix the runner input",
        },
      );
    }
    await checkBundle(req, program);
    if (placement.kind === "semihosting") await copyFile(program.file, path.join(req.dir, file));
    const collect = new MetricCollector();
    let last: FvpReport | null = null;
    for (let rep = 0; rep < req.warmup + req.reps; rep++) {
      const remainingS = (ctx.deadline - performance.now()) / 1000;
      if (remainingS < 1) {
        throw new DriverFailure(
          "timeout",
          `the step's ${req.timeoutS} s ran out after ${rep} of ${req.warmup + req.reps} simulations`,
        );
      }
      last = await simulate(ctx, argvAt(remainingS), program.bundled);
      if (rep >= req.warmup) collectRep(collect, last);
    }
    collect.add("pte_bytes", "B", "lower", { value: (await stat(req.pte)).size });
    for (const [name, why] of Object.entries(UNAVAILABLE)) collect.cannotMeasure(name, why);
    collect.note(
      "cpu_cycles",
      "Cortex-M cycles in method->execute() per inference, simulated: Arm's FVPs are cycle-accurate for the NPU, not the CPU",
    );
    collect.note(
      "npu_active_cycles",
      "the Ethos-U PMU cycle counter (NPU_ACTIVE to NPU_IDLE) per inference, simulated",
    );
    const { metrics, unavailable, notes } = collect.finish();
    return {
      data: {
        prompts: [],
        reps: req.reps,
        warmup: req.warmup,
        metrics,
        driver: {
          name: "fvp",
          unavailable,
          notes,
          output_check: "bundled-io",
          details: {
            fvp,
            elf,
            target: `corstone-${target.corstone} ${target.npu}-${target.macs}`,
            placement: placement.kind,
            bundled_program: program.bundled ? file : null,
            inferences: last?.inferences ?? null,
            npu_delegations: last?.delegations ?? null,
            test_results: last?.testResults.length ?? 0,
            pmu_events: last?.pmuCounters.map((c) => c.event) ?? [],
            memory: last?.memory ?? {},
          },
        },
      },
    };
  });
}

export const fvpDriver: ExecuteDriver = {
  name: "fvp",
  describe: "a Corstone FVP running ExecuTorch's bare-metal executor runner (examples/arm/executor_runner)",
  interleaves: false,
  execute: runFvp,
};
