/**
 * What the three build actions (export, quantize, lower) share: the plan's build entry to a cell,
 * a StageJob over the build cache, and the job-summary lines for their steps.
 */
import { loadFarm } from "../../../matrix/load.ts";
import { defaultCacheDir, defaultPython } from "../core/paths.ts";
import type { RunnableCell } from "../pipeline/runnable-cell.ts";
import { cellOfBuild, StageJob } from "../pipeline/stage-job.ts";
import type { Step } from "../pipeline/step-runner.ts";
import type { ActionIO } from "./io.ts";

export async function openBuild(
  io: ActionIO<"export" | "quantize" | "lower">,
): Promise<{ job: StageJob; cell: RunnableCell }> {
  const farm = await loadFarm(io.path("matrix"));
  const cell = cellOfBuild(farm, io.json("build"));
  const job = await StageJob.open({
    farm,
    cell,
    python: io.path("python") || defaultPython(),
    cacheDir: io.path("cache-dir") || defaultCacheDir(),
    outDir: io.path("out-dir"),
    timeoutS: io.int("timeout-s", 1),
    logger: io.logger,
  });
  return { job, cell };
}

/** A markdown table of the steps an action ran: stage, what, cache, wall time. */
export function stepsTable(steps: readonly Step[]): string {
  const rows = steps.map(
    (s) => `| ${s.stage} | \`${s.label}\` | ${s.cache} | ${(s.wallMs / 1000).toFixed(1)} s |`,
  );
  return `| stage | build | cache | wall |\n|---|---|---|---|\n${rows.join("\n")}\n`;
}
