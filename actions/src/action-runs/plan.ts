/**
 * The plan action: `pte-farm plan` as a step. Same outputs as the CLI writes to $GITHUB_OUTPUT
 * (matrix/shard.ts), set through @actions/core, plus a short job summary.
 */
import { EVENTS, type FarmEvent } from "../../../matrix/schema.ts";
import { readableJson } from "../../../matrix/shard.ts";
import { ConfigurationError } from "../core/errors.ts";
import { planOutputs } from "../plan/outputs.ts";
import { defineAction } from "./io.ts";
import { MAX_SHARDS, type OutputName } from "./io-table.ts";

export const run = defineAction("plan", async (io) => {
  const changedFiles = io.path("changed-files");
  const baseMatrix = io.path("base-matrix");
  const history = io.input("history");
  const out = await planOutputs({
    matrix: io.path("matrix"),
    event: io.oneOf("event", EVENTS) satisfies FarmEvent,
    ...(changedFiles === "" ? {} : { changedFiles }),
    ...(baseMatrix === "" ? {} : { baseMatrix }),
    ...(history === "" ? {} : { history }),
    logger: io.logger,
  });
  const shards = out.shards as { builds: number; devices: number };
  if (Math.max(shards.builds, shards.devices) > MAX_SHARDS) {
    throw new ConfigurationError(
      `the plan needs ${shards.builds} build and ${shards.devices} device shards, more than the ${MAX_SHARDS} ` +
        "the plan action declares; raise MAX_SHARDS in actions/src/action-runs/io-table.ts and add the shard jobs",
    );
  }
  io.logger.info(readableJson(out));
  for (const [key, value] of Object.entries(out)) io.output(key as OutputName<"plan">, value as object);

  // Jobs across a list's shards (`builds`, or `builds_1`, `builds_2`, …).
  const jobs = (key: string) =>
    Object.entries(out)
      .filter(([k]) => k === key || k.startsWith(`${key}_`))
      .reduce((n, [, v]) => n + (v as { include: unknown[] }).include.length, 0);
  const skipped = (out.skipped as unknown[]).length;
  const line = `${jobs("builds")} build jobs, ${jobs("devices")} device jobs, ${skipped} skipped`;
  io.logger.info(`plan ${String(out.event)} (cell set ${String(out.cell_set)}): ${line}`);
  await io.summary(
    `### pte-farm plan: ${String(out.event)}\n\ncell set \`${String(out.cell_set)}\`: ${line}\n`,
  );
});
