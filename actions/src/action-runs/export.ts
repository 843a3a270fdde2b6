/**
 * The export action: a build job's first step. It runs the reference stage (FP32 eager tokens, and
 * eager quantized ones for a quantized recipe) and the export stage: both start from the model
 * folder rather than from another stage's artefact, and the device job's gate needs the reference.
 */
import path from "node:path";
import { exportStep, referenceStep } from "../pipeline/stage-specs.ts";
import { openBuild, stepsTable } from "./build-step.ts";
import { defineAction } from "./io.ts";

export const run = defineAction("export", async (io) => {
  const { job, cell } = await openBuild(io);
  const reference = await job.run(referenceStep(job.ctx, cell));
  const exported = await job.run(exportStep(job.ctx, cell));
  const program = job.artefact(exported, "program");
  io.output("program", program.path);
  io.output("program-sha256", program.sha256);
  io.output("reference", path.join(reference.dir, "result.json"));
  io.output("out-dir", exported.dir);
  await io.summary(`### pte-farm export: ${cell.model.name}\n\n${stepsTable([reference, exported])}`);
});
