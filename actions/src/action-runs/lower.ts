/**
 * The lower action: a build job's last step, the `.pte` and its manifest. The manifest (sha256,
 * toolchain, delegation) travels with the `.pte` to the device job, whose execute checks both.
 */

import { artefactAt } from "../pipeline/stage-job.ts";
import { artefactOf, lowerStep } from "../pipeline/stage-specs.ts";
import { openBuild, stepsTable } from "./build-step.ts";
import { defineAction } from "./io.ts";

export const run = defineAction("lower", async (io) => {
  const { job, cell } = await openBuild(io);
  const input = await artefactAt(io.requiredPath("program"), "input program");
  const lowered = await job.run(lowerStep(job.ctx, cell, input));
  const pte = job.artefact(lowered, "pte");
  const manifest = job.artefact(lowered, "manifest");
  io.output("pte", pte.path);
  io.output("pte-sha256", pte.sha256);
  io.output("manifest", manifest.path);
  // Only Ethos-U builds declare one (see the manifest's `bpte`).
  const bpte = artefactOf(lowered, "bpte");
  io.output("bpte", typeof bpte === "string" ? "" : bpte.path);
  io.output("out-dir", lowered.dir);
  const name = `${cell.model.name}/${cell.recipe.name}/${cell.backend.name}`;
  await io.summary(
    `### pte-farm lower: ${name}\n\n${stepsTable([lowered])}\n\`.pte\` sha256 \`${pte.sha256}\`\n`,
  );
});
