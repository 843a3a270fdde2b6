/**
 * Records from an emulated device (QEMU user mode) count for correctness and never for speed:
 * no comparison verdict, no change point, no regression candidate or issue, no release figure.
 */
import { describe, expect, it } from "vitest";
import { loadCompareConfig } from "../actions/src/compare/config.ts";
import { cellSeries, cleanSamples } from "../actions/src/compare/detect.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { nightly } from "../actions/src/history/nightly.ts";
import { benchFigures } from "../actions/src/release/cell-entry.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { type CellReport, outcomeOf } from "../reports/cell-report.ts";
import { renderPrComment } from "../reports/pr-comment.ts";
import { sampleRecord } from "./helpers/record.ts";
import { record } from "./helpers/records.ts";

const DECODE = "decode_tokens_per_sec";
const EMULATION = { qemu: "qemu-aarch64 version 7.2.22", cpu_model: "cortex-a76", host_arch: "x64" };

function emulated<R extends RunRecord>(r: R): R {
  return { ...r, device: { ...r.device, emulation: EMULATION } };
}

/** One nightly record per night at 10 tok/s, 12% slower from night 33 on. */
function slowed(emu: boolean): RunRecord[] {
  const rng = seededRng(7);
  return Array.from({ length: 40 }, (_, i) => {
    const level = 10 * (i >= 33 ? 0.88 : 1) * (1 + 0.01 * rng.normal());
    const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
    const started = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
    const r = {
      ...record(reps, { session: `night-${i}`, startedAt: started, gitSha: `sha${i}` }),
      role: "nightly" as const,
    };
    return emu ? emulated(r) : r;
  });
}

describe("emulated records give no speed verdict", () => {
  it("the nightly finds the 12% step on a board and nothing on the emulated device, even with a slow re-run", async () => {
    const config = await loadCompareConfig();
    const confirm = (emu: boolean) => {
      const r = {
        ...record([8.8, 8.9, 8.7, 8.8], { session: "confirm-40", gitSha: "sha40" }),
        role: "nightly" as const,
      };
      return emu ? emulated(r) : r;
    };
    const board = nightly({
      history: slowed(false),
      tonight: slowed(false).slice(-1),
      config,
      confirmations: [confirm(false)],
    });
    expect(board.actions.map((a) => [a.metric, a.state])).toEqual([[DECODE, "regressed"]]);
    const emu = slowed(true);
    const d = nightly({ history: emu, tonight: emu.slice(-1), config, confirmations: [confirm(true)] });
    expect(d.candidates).toEqual([]);
    expect(d.actions).toEqual([]);
    expect(cellSeries(emu, emu[0]?.cell.id ?? "", DECODE).every((p) => p.samples.length === 0)).toBe(true);
  });

  it("a comparison of emulated records has no timing verdict, says why, and keeps the size", async () => {
    const config = await loadCompareConfig();
    const base = emulated(sampleRecord());
    const head = emulated(
      sampleRecord({
        metrics: {
          ...sampleRecord().metrics,
          decode_tokens_per_sec: { unit: "tok/s", better: "higher", samples: [50, 51, 50, 52] },
        },
      }),
    );
    const cmp = compareRecords(base, head, config);
    expect(Object.keys(cmp.metrics)).toEqual(["pte_bytes"]);
    expect(cmp.notes.join("\n")).toMatch(/decode_tokens_per_sec: emulated device: timings are QEMU's/);
    // The same pair from a board is compared on its timings (three clean pairs: too few for the
    // sequential boundary to call it, but the halving is measured).
    const real = compareRecords(sampleRecord(), { ...head, device: sampleRecord().device }, config);
    expect(real.metrics[DECODE]).toMatchObject({ method: "paired", reps: { base: 3, head: 3 } });
    expect(real.metrics[DECODE]?.ratio).toBeCloseTo(0.5, 2);
    expect(real.metrics[DECODE]?.p_value).toBeLessThan(0.01);
  });

  it("a release publishes an emulated record's size and none of its timings", () => {
    expect(Object.keys(benchFigures(emulated(sampleRecord())))).toEqual(["pte_bytes"]);
    expect(Object.keys(benchFigures(sampleRecord()))).toContain(DECODE);
    expect(cleanSamples(emulated(sampleRecord()), "pte_bytes")).toEqual([1_782_579]);
  });

  it("the PR comment shows a 30% slower emulated cell as tokens only, never a regression", async () => {
    const config = await loadCompareConfig();
    const slow = (r: RunRecord) => ({
      ...r,
      metrics: {
        ...r.metrics,
        [DECODE]: { unit: "tok/s", better: "higher" as const, samples: [70, 71, 69, 70, 70, 71] },
      },
    });
    const pair = (emu: boolean): CellReport => {
      const fast = { ...sampleRecord(), role: "base" as const };
      fast.metrics = {
        ...fast.metrics,
        [DECODE]: { unit: "tok/s", better: "higher", samples: [100, 101, 99, 100, 100, 101] },
      };
      const base = emu ? emulated(fast) : fast;
      const head = emu ? emulated(slow(sampleRecord())) : slow(sampleRecord());
      return { head, base, comparison: compareRecords(base, head, config) };
    };
    expect(outcomeOf(pair(false))).toBe("regression");
    const cell = pair(true);
    expect(outcomeOf(cell)).toBe("emulated");
    const comment = renderPrComment({ cells: [cell] });
    expect(comment).toContain("tokens only: an emulated device gives no speed verdict");
    expect(comment).toContain("— (emulated)");
    expect(comment).toContain("🔴 0 regressions");
    const row = comment.split("\n").find((l) => l.startsWith("| `tiny-llama/"));
    expect(row).not.toMatch(/regression|improvement|unchanged|inconclusive/);
  });
});
