/**
 * The `python-runtime` driver: the Python execute stage (stages/pte_stages/execute.py) on
 * ExecuTorch's Python runtime, run as it always was — a separate process under the stage
 * contract, with its own sha256 and toolchain checks, per-rep telemetry and cool-down. This only
 * adapts it to the driver interface; its data carries no `driver` block (it measures every metric).
 * It is the one driver that measures a base and a head `.pte` interleaved (ABBA) in one process.
 */
import { runnableCell } from "../pipeline/runnable-cell.ts";
import { StageJob } from "../pipeline/stage-job.ts";
import { executeStep } from "../pipeline/stage-specs.ts";
import type { DriverRequest, DriverRun, ExecuteDriver } from "./driver.ts";

async function runPythonRuntime(req: DriverRequest): Promise<DriverRun> {
  const cell = runnableCell(req.cell);
  const ctx =
    req.stages ??
    (
      await StageJob.open({
        farm: req.farm,
        cell,
        python: req.python,
        cacheDir: null,
        outDir: req.outDir,
        timeoutS: req.timeoutS,
        warmup: req.warmup,
        reps: req.reps,
        logger: req.logger,
      })
    ).ctx;
  const inputs: Record<string, string> = { pte: req.pte, manifest: req.manifestPath };
  if (req.base !== undefined)
    Object.assign(inputs, { base_pte: req.base.pte, base_manifest: req.base.manifest });
  return executeStep(ctx, cell, {
    inputs,
    promptIds: req.promptIds,
    ...(req.referenceLogits === undefined ? {} : { referenceLogits: req.referenceLogits }),
    dir: req.dir,
    buildToolchain: req.manifest.toolchain,
  });
}

export const pythonRuntimeDriver: ExecuteDriver = {
  name: "python-runtime",
  describe: "ExecuTorch's Python runtime (the execute stage, stages/pte_stages/execute.py)",
  interleaves: true,
  execute: runPythonRuntime,
};
