/** The quantize action: a build job's second step, the recipe applied to export's program. */

import { artefactAt } from "../pipeline/stage-job.ts";
import { quantizeStep } from "../pipeline/stage-specs.ts";
import { openBuild, stepsTable } from "./build-step.ts";
import { defineAction } from "./io.ts";

export const run = defineAction("quantize", async (io) => {
  const { job, cell } = await openBuild(io);
  const input = await artefactAt(io.requiredPath("program"), "input program");
  const quantized = await job.run(quantizeStep(job.ctx, cell, input));
  const program = job.artefact(quantized, "program");
  io.output("program", program.path);
  io.output("program-sha256", program.sha256);
  io.output("out-dir", quantized.dir);
  await io.summary(
    `### pte-farm quantize: ${cell.model.name}/${cell.recipe.name}\n\n${stepsTable([quantized])}`,
  );
});
