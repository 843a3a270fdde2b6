import { describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { cellSeries, confirm, detectSeries } from "../actions/src/compare/detect.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { detectChangePoints } from "../actions/src/stats/changepoint.ts";
import { noiseFloor } from "../actions/src/stats/noise-floor.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { record, writeRecords } from "./helpers/records.ts";

/** Nightly medians: level 10 with 1.5% night-to-night noise, times `factor(i)`. */
function nights(seed: number, n: number, factor: (i: number) => number = () => 1): number[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, (_, i) => 10 * factor(i) * (1 + 0.015 * rng.normal()));
}

/** One record per night, 8 reps each with 2% rep noise. */
function history(seed: number, n: number, factor: (i: number) => number = () => 1): RunRecord[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const level = 10 * factor(i) * (1 + 0.01 * rng.normal());
    const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
    const day = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
    return record(reps, { session: `night-${i}`, startedAt: day, gitSha: `sha${i}` });
  });
}

describe("change points", () => {
  it("finds a 10% step at the night it happened", () => {
    const cps = detectChangePoints(nights(1, 60, (i) => (i >= 30 ? 0.9 : 1)));
    expect(cps).toHaveLength(1);
    expect(cps[0]?.index).toBe(30);
    expect(cps[0]?.ratio).toBeCloseTo(0.9, 1);
    expect(cps[0]?.p_value).toBeLessThan(0.01);
  });

  it("finds none in a series without a step", () => {
    for (const seed of [2, 3, 4, 5]) expect(detectChangePoints(nights(seed, 60))).toEqual([]);
  });

  it("does not call one outlier night a change point", () => {
    expect(detectChangePoints(nights(6, 60, (i) => (i === 40 ? 0.6 : 1)))).toEqual([]);
    expect(detectChangePoints(nights(7, 60, (i) => (i === 57 ? 1.5 : 1)))).toEqual([]);
  });

  it("finds two steps in a long series (asymptotic p beyond the permutation range)", () => {
    const cps = detectChangePoints(nights(8, 600, (i) => (i >= 400 ? 0.85 : i >= 150 ? 0.93 : 1)));
    expect(cps.map((c) => c.index)).toEqual([150, 400]);
  });
});

describe("detect over run records", () => {
  it("reports the change point's night and sha, and the CLI prints it as JSON", async () => {
    const records = history(9, 40, (i) => (i >= 25 ? 0.9 : 1));
    const cell = records[0]?.cell.id as string;
    const d = detectSeries(cellSeries(records, cell, "decode_tokens_per_sec"), cell, "decode_tokens_per_sec");
    expect(d.change_points).toHaveLength(1);
    expect(d.change_points[0]).toMatchObject({ index: 25, git_sha: "sha25", confirmed: false });
    expect(d.change_points[0]?.started_at).toBe("2026-01-26T00:00:00.000Z");

    const files = await writeRecords(...records);
    const logger = new RecordingLogger();
    const code = await main(
      [
        "detect",
        ...files.flatMap((f) => ["--history", f]),
        "--cell",
        cell,
        "--metric",
        "decode_tokens_per_sec",
      ],
      logger,
    );
    expect(code).toBe(0);
    expect(JSON.parse(logger.text()).change_points[0].git_sha).toBe("sha25");
  });

  it("refuses an unknown cell with exit 2, listing the cells it has", async () => {
    const files = await writeRecords(...history(10, 3));
    const logger = new RecordingLogger();
    const code = await main(
      ["detect", "--history", files[0] as string, "--cell", "x/y/z/w@v", "--metric", "decode_tokens_per_sec"],
      logger,
    );
    expect(code).toBe(2);
    expect(logger.text()).toContain("cells present: tiny-llama/fp32/portable/host@stable");
  });

  it("confirm: a re-run at the new level confirms, one back at the old level does not", () => {
    const cp = { before_median: 10, after_median: 9 };
    expect(confirm(cp, record([9.1, 8.9, 9.05]), "decode_tokens_per_sec").confirmed).toBe(true);
    const fluke = confirm(cp, record([9.9, 10.1, 9.95]), "decode_tokens_per_sec");
    expect(fluke.confirmed).toBe(false);
    expect(fluke.reason).toContain("back near the old level");
    const throttled = record([9, 9, 9], { flags: [["throttled"], ["throttled"], ["throttled"]] });
    expect(confirm(cp, throttled, "decode_tokens_per_sec").confirmed).toBe(false);
  });
});

describe("noise floor", () => {
  it("recovers the within-session and between-night spread and the detectable change", () => {
    const rng = seededRng(12);
    const data = Array.from({ length: 200 }, () => {
      const level = 10 * (1 + 0.01 * rng.normal());
      return Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
    });
    const nf = noiseFloor(data, { reps: 16 });
    expect(nf?.within_pct).toBeCloseTo(2, 0);
    expect(nf?.between_pct).toBeGreaterThan(0.6);
    expect(nf?.between_pct).toBeLessThan(1.4);
    // paired at 16 reps: (2.576 + 0.842)·2%·√2/4 ≈ 2.4%
    expect(nf?.paired_pct).toBeGreaterThan(2);
    expect(nf?.paired_pct).toBeLessThan(2.9);
    expect(nf?.unpaired_pct).toBeGreaterThan(nf?.paired_pct as number);
  });

  it("is null with fewer than three nights", () => {
    expect(noiseFloor([[1, 2]])).toBeNull();
  });
});
