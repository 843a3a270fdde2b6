/**
 * The execute action: a device job's measuring step. The driver comes from the cell's device in
 * the matrix (python-runtime, llama-main, fvp; drivers/registry.ts); each refuses a `.pte` whose
 * sha256 differs from its manifest or a runtime built from another ExecuTorch than the build's,
 * and each leaves the same execute result for the gate. Here the manifest must also describe this
 * cell's build, and the reference gives the prompt ids (a model without prompts needs none).
 */

import path from "node:path";
import { loadFarm } from "../../../matrix/load.ts";
import { loadCompareConfig } from "../compare/config.ts";
import { ConfigurationError } from "../core/errors.ts";
import { defaultPython } from "../core/paths.ts";
import type { DriverRequest, DriverSettings } from "../drivers/driver.ts";
import { driverFor } from "../drivers/registry.ts";
import { numericsInput } from "../gate/numerics.ts";
import { interleavedSession } from "../pipeline/adaptive-session.ts";
import { cellDir } from "../pipeline/cell.ts";
import { executeCell, RUNNER_EXECUTORCH_ENV } from "../pipeline/execute.ts";
import {
  artefactAt,
  matrixCellById,
  readManifest,
  readStageResult,
  recordStep,
} from "../pipeline/stage-job.ts";
import { cleanSamples, median } from "../records/samples.ts";
import type { ExecuteData } from "../schemas/stage.ts";
import { type ActionIO, defineAction } from "./io.ts";

/** A program given by path or, without a slash, by name on PATH. */
function program(io: ActionIO<"execute">, name: "runner" | "fvp"): string {
  const v = io.input(name);
  return v === "" || !v.includes("/") ? v : path.resolve(io.workspace, v);
}

function headline(data: ExecuteData): string {
  const decode = median(cleanSamples(data.metrics.decode_tokens_per_sec));
  if (decode !== null) return `median decode ${decode.toFixed(2)} tok/s`;
  const npu = median(cleanSamples(data.metrics.npu_active_cycles));
  if (npu !== null) return `median ${Math.round(npu)} NPU cycles per inference`;
  return "median decode n/a";
}

/**
 * The base `.pte` to measure interleaved, "identical" when it is byte-identical to the head's
 * (nothing to measure: its speed is the head's), or null without one.
 */
async function basePte(
  io: ActionIO<"execute">,
  headSha256: string,
): Promise<{ pte: string; manifest: string } | "identical" | null> {
  if (io.input("base-pte") === "") return null;
  const manifest = io.requiredPath("base-manifest");
  const base = await readManifest(manifest);
  if (base.pte.sha256 === headSha256) {
    io.logger.info(
      `base and head .pte are byte-identical (sha256 ${headSha256}): their speed cannot differ, so the base is not measured`,
    );
    return "identical";
  }
  const pte = await artefactAt(io.requiredPath("base-pte"), "input base-pte");
  return { pte: pte.path, manifest };
}

export const run = defineAction("execute", async (io) => {
  const farm = await loadFarm(io.path("matrix"));
  const cell = matrixCellById(farm, io.required("cell"), "input cell");
  const driver = driverFor(cell);
  const pte = await artefactAt(io.requiredPath("pte"), "input pte");
  const manifestPath = io.requiredPath("manifest");
  const manifest = await readManifest(manifestPath);
  let promptIds: number[][] = [];
  let numerics: ReturnType<typeof numericsInput> = {};
  if (io.input("reference") !== "") {
    const { data: reference } = await readStageResult(
      io.requiredPath("reference"),
      "reference",
      "input reference",
    );
    promptIds = reference.prompts.map((p) => p.prompt_ids);
    numerics = numericsInput(reference, cell);
  } else if (cell.model.prompts.length > 0) {
    throw new ConfigurationError(
      `input reference is required for cell ${cell.id}: its prompt ids are what the .pte is fed (export's reference output)`,
    );
  }
  const settings: DriverSettings = {
    runner: program(io, "runner"),
    tokenizer: io.path("tokenizer"),
    fvp: program(io, "fvp"),
    pteAddress: io.input("fvp-pte-address"),
    runnerExecutorch: process.env[RUNNER_EXECUTORCH_ENV] || null,
  };
  const outDir = io.path("out-dir");
  io.logger.info(`cell ${cell.id}: ${driver.name} driver, ${driver.describe}`);
  const base = await basePte(io, manifest.pte.sha256);
  const req: DriverRequest = {
    farm,
    cell,
    pte: pte.path,
    manifestPath,
    manifest,
    promptIds,
    ...numerics,
    // A byte-identical base: one rep for the gate's tokens, no speed to measure.
    warmup: base === "identical" ? 0 : io.int("warmup", 0),
    reps: base === "identical" ? 1 : io.int("reps", 1),
    dir: path.join(cellDir(outDir, cell), "execute"),
    outDir,
    timeoutS: io.int("timeout-s", 1),
    python: io.path("python") || defaultPython(),
    settings,
    logger: io.logger,
  };
  const interleaved = base !== null && base !== "identical";
  const step = await recordStep(
    outDir,
    interleaved
      ? interleavedSession(
          driver,
          { ...req, base },
          {
            config: await loadCompareConfig(io.path("compare-config") || undefined),
            budgetS: cell.device.sessionMinutes * 60,
          },
        )
      : executeCell(driver, req),
  );
  io.output("interleaved", interleaved);
  io.output("identical", base === "identical");
  io.output("result", path.join(step.dir, "result.json"));
  io.output("out-dir", step.dir);
  const data = step.data as ExecuteData;
  const missing = Object.keys(data.driver?.unavailable ?? {});
  await io.summary(
    `### pte-farm execute: ${cell.id}\n\n${data.reps} reps after ${data.warmup} warm-up; ${headline(data)} ` +
      `(${driver.name} driver)\n${missing.length === 0 ? "" : `\nnot measurable with this driver: ${missing.join(", ")}\n`}`,
  );
});
