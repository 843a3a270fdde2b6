/**
 * The compare action: `pte-farm compare` as a step. Writes the comparison JSON, shows it as a
 * table in the job summary, and fails on a regression (exit 1, as the CLI); an inconclusive answer
 * is a warning naming how many more reps per side would decide it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { renderComparison } from "../../../reports/compare.ts";
import { compareFiles } from "../compare/files.ts";
import { identicalComparison } from "../compare/identical.ts";
import { ConfigurationError } from "../core/errors.ts";
import { defineAction, VerdictFailure } from "./io.ts";

export const run = defineAction("compare", async (io) => {
  const config = io.path("config");
  const baseManifest = io.path("base-manifest");
  if ((io.path("base") === "") === (baseManifest === "")) {
    throw new ConfigurationError(
      "give exactly one of inputs base (a run record) and base-manifest (an identical build)",
    );
  }
  const comparison =
    baseManifest !== ""
      ? await identicalComparison(baseManifest, io.requiredPath("head"))
      : await compareFiles({
          base: io.requiredPath("base"),
          head: io.requiredPath("head"),
          acrossToolchains: io.bool("across-toolchains"),
          ...(config === "" ? {} : { config }),
        });
  const outDir = io.path("out-dir");
  const file = path.join(outDir, "comparison.json");
  await mkdir(outDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(comparison, null, 2)}\n`);
  io.output("comparison", file);
  io.output("verdict", comparison.verdict);
  const markdown = renderComparison(comparison);
  io.logger.info(markdown);
  await io.summary(`${markdown}\n`);
  if (comparison.verdict === "inconclusive") {
    const more = Math.max(0, ...Object.values(comparison.metrics).map((m) => m.more_samples));
    io.logger.warn(`inconclusive: about ${more} more reps per side would decide it (see more_samples)`);
  }
  if (comparison.verdict === "regression") {
    const worse = Object.entries(comparison.metrics)
      .filter(([, m]) => m.verdict === "regression")
      .map(([name, m]) => `${name} ${m.ratio === null ? "" : `×${m.ratio.toFixed(3)}`}`.trim());
    throw new VerdictFailure(`${comparison.cell}: regression in ${worse.join(", ")}`);
  }
});
