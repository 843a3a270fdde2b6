/**
 * opt-tiny, the shipped twin of a hub model, through every host cell of the matrix's `twins` set
 * (fp32, 8da4w-g32, 8da4w-g128 × xnnpack, xnnpack-per-op, portable): each builds with the real
 * toolchain and gates bit-exact, with its logits within the recipe's numerics tolerance.
 */
import { describe, expect, it } from "vitest";
import { hasRealPython, hasRealStage } from "./helpers/env.ts";
import { expectEveryCellGates, runTwin, twinCells } from "./helpers/twins.ts";

describe.runIf(hasRealPython && hasRealStage("execute"))("opt-tiny through the stages", () => {
  it("every host cell of the twins set gates bit-exact, numerics within tolerance", async () => {
    expect(await twinCells("opt-tiny")).toHaveLength(9);
    const run = await runTwin("opt-tiny");
    expect(run.records.map((r) => r.cell.id)).toEqual(await twinCells("opt-tiny"));
    expectEveryCellGates(run);
  }, 3_600_000);
});
