/**
 * An execute driver: how a device job runs a `.pte` and measures it. The device's `driver` in
 * matrix/farm.yml picks one (registry.ts). Every driver ends the same way — a Step whose
 * `result.json` is a `pte-farm/stage-result@1` execute result — so the gate action and the run
 * record read one shape whatever ran the model: ExecuTorch's Python runtime, the C++ `llama_main`,
 * or a bare-metal runner on a Corstone FVP.
 *
 * A driver never throws for what the model, the runner or the device did: those end in the Step's
 * outcome (stage-failure, infra-failure, timeout), with a message that says which. It throws only
 * for bad settings (ConfigurationError) and our own bugs.
 */
import type { Cell } from "../../../matrix/cells.ts";
import type { Driver } from "../../../matrix/schema.ts";
import type { Farm } from "../../../matrix/types.ts";
import type { Logger } from "../core/logger.ts";
import type { StageContext } from "../pipeline/stage-specs.ts";
import type { Step } from "../pipeline/step-runner.ts";
import type { TelemetrySample } from "../records/host-info.ts";
import type { Manifest } from "../schemas/manifest.ts";
import type { ReferenceLogits, ToolchainVersions } from "../schemas/stage.ts";

/** Where a native driver finds its programs; each field's default is the driver's to decide. */
export interface DriverSettings {
  /** llama-main: the `llama_main` binary; fvp: the bare-metal executor runner ELF. Empty: the driver's default. */
  runner: string;
  /** llama-main: the tokenizer file. Empty: `tokenizer.json` in the model folder. */
  tokenizer: string;
  /** fvp: the FVP executable. Empty: the board's FVP (`FVP_Corstone_SSE-300_Ethos-U55`, ...) on PATH. */
  fvp: string;
  /**
   * fvp: where the `.pte` goes in the simulated memory (`--data pte@ADDR`, for a runner built with
   * `-DET_MODEL_PTE_ADDR=ADDR`). Empty: the runner reads it over semihosting (`-m`).
   */
  pteAddress: string;
  /** The ExecuTorch version the native runner was built from, as provisioning recorded it; null: unknown. */
  runnerExecutorch: string | null;
}

export interface DriverRequest {
  farm: Farm;
  cell: Cell;
  /** The `.pte` and its manifest (already parsed: it was checked to describe this cell's build). */
  pte: string;
  manifestPath: string;
  manifest: Manifest;
  /** The reference's prompt ids, so every driver feeds the model exactly what the reference saw. */
  promptIds: number[][];
  /**
   * OPTIONAL (issue 17): the recipe's eager tokens and top logits per prompt. The Python runtime
   * compares the `.pte`'s logits with them (the numerics gate); drivers that see no logits ignore it.
   */
  referenceLogits?: ReferenceLogits[];
  warmup: number;
  reps: number;
  /** The step's folder: spec.json, stage.log, result.json. */
  dir: string;
  /** The job's output folder (step notes live there). */
  outDir: string;
  /** The whole step's budget; a driver kills what it started when it runs out. */
  timeoutS: number;
  /** The toolchain's Python (the Python runtime, and llama-main's token-id recovery). */
  python: string;
  settings: DriverSettings;
  logger: Logger;
  /**
   * The caller's stage runner, when it has one (`pte-farm run`: its known issues, stage options
   * and progress lines); a driver that runs the Python execute stage opens its own otherwise.
   */
  stages?: StageContext;
  /** A base `.pte` and its manifest to measure interleaved (ABBA) with the head's; see {@link ExecuteDriver.interleaves}. */
  base?: { pte: string; manifest: string };
  /** The run's cancellation (default: the process's, core/cancel.ts); tests pass their own. */
  cancel?: AbortSignal;
}

export interface DriverRun {
  step: Step;
  /** The orchestrator's readings just before and after the step (the run record's telemetry.samples). */
  telemetry: TelemetrySample[];
}

export interface ExecuteDriver {
  name: Driver;
  /** One line for logs and docs: what runs the model. */
  describe: string;
  /** Whether it can measure a base and a head `.pte` interleaved in one session. */
  interleaves: boolean;
  execute(req: DriverRequest): Promise<DriverRun>;
}

/** The versions a native driver reports as the device toolchain (the run record's `toolchain.device`). */
export function nativeToolchain(settings: DriverSettings, runner: string): ToolchainVersions {
  return { executorch: settings.runnerExecutorch, runner };
}
