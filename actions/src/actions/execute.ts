/**
 * The execute action: a device job's measuring step. The stage itself refuses a `.pte` whose
 * sha256 differs from its manifest, or a device whose torch/executorch differ from the build's;
 * here the manifest must also describe this cell's build, and the reference gives the prompt ids.
 */
import path from "node:path";
import { loadFarm } from "../../../matrix/load.ts";
import { executeStep } from "../cell-stages.ts";
import { ConfigurationError } from "../errors.ts";
import { defaultPython } from "../paths.ts";
import { cellDir } from "../pipeline.ts";
import { cleanSamples, median } from "../samples.ts";
import type { ExecuteData } from "../schemas/stage.ts";
import { artefactAt, cellById, readManifest, readStageResult, StageJob } from "../stage-job.ts";
import { defineAction } from "./io.ts";

export const run = defineAction("execute", async (io) => {
  const farm = await loadFarm(io.path("matrix"));
  const cell = cellById(farm, io.required("cell"), "input cell");
  const pte = await artefactAt(io.requiredPath("pte"), "input pte");
  const manifestPath = io.requiredPath("manifest");
  const manifest = await readManifest(manifestPath);
  const built = manifest.cell;
  const mismatch = (["model", "recipe", "backend", "toolchain"] as const).filter(
    (k) => built[k] !== cell.ref[k],
  );
  if (mismatch.length > 0) {
    throw new ConfigurationError(
      `input manifest ${manifestPath}: built for ${built.id ?? JSON.stringify(built)}, not a build of cell ${cell.id} ` +
        `(${mismatch.join(", ")} differ)`,
    );
  }
  const { data: reference } = await readStageResult(
    io.requiredPath("reference"),
    "reference",
    "input reference",
  );
  const outDir = io.path("out-dir");
  const job = await StageJob.open({
    farm,
    cell,
    python: io.path("python") || defaultPython(),
    cacheDir: null,
    outDir,
    timeoutS: io.int("timeout-s", 1),
    warmup: io.int("warmup", 0),
    reps: io.int("reps", 1),
    logger: io.logger,
  });
  const step = await job.run(
    executeStep(job.ctx, cell, {
      inputs: { pte: pte.path, manifest: manifestPath },
      promptIds: reference.prompts.map((p) => p.prompt_ids),
      dir: path.join(cellDir(outDir, cell), "execute"),
      buildToolchain: manifest.toolchain,
    }),
  );
  io.output("result", path.join(step.dir, "result.json"));
  io.output("out-dir", step.dir);
  const data = step.data as ExecuteData;
  const decode = median(cleanSamples(data.metrics.decode_tokens_per_sec));
  await io.summary(
    `### pte-farm execute: ${cell.id}\n\n${data.reps} reps after ${data.warmup} warm-up; ` +
      `median decode ${decode === null ? "n/a" : decode.toFixed(2)} tok/s\n`,
  );
});
