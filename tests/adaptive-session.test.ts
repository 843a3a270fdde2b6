/**
 * The adaptive interleaved session's own logic (pipeline/adaptive-session.ts): how blocks join,
 * what a look compares, and when the session stops. The session run by a real device job is in
 * tests/act-farm.test.ts (farm-pr under act).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_COMPARE_CONFIG, loadCompareConfig } from "../actions/src/compare/config.ts";
import { identicalComparison } from "../actions/src/compare/identical.ts";
import { BLOCK_REPS } from "../actions/src/compare/looks.ts";
import type { MetricComparison } from "../actions/src/compare/verdicts.ts";
import { parse } from "../actions/src/core/validate.ts";
import { appendBlock, look, nextBlock } from "../actions/src/pipeline/adaptive-session.ts";
import { comparison as comparisonSchema } from "../actions/src/schemas/comparison.ts";
import type { ExecuteData, Metric } from "../actions/src/schemas/stage.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { pairedSession } from "../scripts/synthetic-sessions.ts";
import { manifestFor } from "./helpers/drivers.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const config = await loadCompareConfig(DEFAULT_COMPARE_CONFIG);

const metric = (samples: number[], better: "higher" | "lower" = "higher"): Metric => ({
  unit: "x",
  better,
  samples,
  sample_flags: samples.map(() => []),
});

function role(decode: number[], ids = [1, 2, 3]) {
  const reps = decode.length;
  return {
    prompts: [{ prompt_ids: [0], ids, pieces: [], output_q: undefined }],
    reps,
    warmup: 1,
    metrics: { decode_tokens_per_sec: metric(decode), pte_bytes: metric([1000], "lower") },
    telemetry: [
      { rep: -1, phase: "before" as const, thermal_c: {}, cpu_mhz: {}, throttled: null },
      ...decode.map((_, i) => ({
        rep: i,
        phase: "after" as const,
        thermal_c: {},
        cpu_mhz: {},
        throttled: null,
      })),
    ],
  };
}

function block(base: number[], head: number[], ids?: number[]): ExecuteData {
  const order = base.flatMap((_, k) => (k % 2 === 0 ? ["base", "head"] : ["head", "base"])) as (
    | "base"
    | "head"
  )[];
  return { ...role(head, ids), base: role(base), order };
}

const comparison = (verdict: MetricComparison["verdict"], more: number): MetricComparison => ({
  verdict,
  ratio: 1,
  ci: [0.9, 1.1],
  p_value: 0.5,
  more_samples: more,
  unit: "tok/s",
  better: "higher",
  method: "paired",
  reps: { base: 10, head: 10 },
  excluded: { base: 0, head: 0 },
  min_effect: 0.03,
  note: null,
});

describe("adaptive interleaved session", () => {
  it("appends a block: per-rep samples, flags, order and telemetry continue; a once-per-session metric stays one", () => {
    const stats = (n: number) => ({ runner_stats: { generated_tokens: 23 * n, decode_ms: 10 * n } });
    const joined = appendBlock(
      { ...block([10, 11], [9, 9.5]), ...stats(2) },
      { ...block([12], [8]), ...stats(1) },
    );
    expect(joined.runner_stats).toEqual({ generated_tokens: 69, decode_ms: 30 });
    expect(joined.reps).toBe(3);
    expect(joined.warmup).toBe(2);
    expect(joined.metrics.decode_tokens_per_sec?.samples).toEqual([9, 9.5, 8]);
    expect(joined.metrics.decode_tokens_per_sec?.sample_flags).toHaveLength(3);
    expect(joined.base?.metrics.decode_tokens_per_sec?.samples).toEqual([10, 11, 12]);
    expect(joined.metrics.pte_bytes?.samples).toEqual([1000]);
    expect(joined.order).toEqual(["base", "head", "head", "base", "base", "head"]);
    // The second block's rep 0 is the session's rep 2; its warm-up is the session's second (-2).
    expect(joined.telemetry?.map((t) => t.rep)).toEqual([-1, 0, 1, -2, 2]);
  });

  it("refuses a block whose tokens differ from the first's: a session that is not deterministic is not a measurement", () => {
    expect(() => appendBlock(block([10], [9]), block([10], [9], [1, 2, 4]))).toThrow(/not deterministic/);
  });

  it("looks at decode paired, at every timed metric when a device has no decode, never at the artefact's size, and not at all on an emulated device", () => {
    const s = pairedSession(seededRng(11), 0.1, 12, 100);
    const data = block(s.base, s.head);
    const withFirstToken = (d: ExecuteData, drop?: string): ExecuteData => {
      const add = (m: ExecuteData["metrics"]) => {
        const out: ExecuteData["metrics"] = { ...m, first_token_ms: metric([20, 21, 22, 20], "lower") };
        if (drop !== undefined) delete out[drop];
        return out;
      };
      const b = d.base;
      if (b === undefined) throw new Error("a block without its base");
      return { ...d, metrics: add(d.metrics), base: { ...b, metrics: add(b.metrics) } };
    };
    const looks = look(withFirstToken(data), config, "pi5", false);
    expect(looks?.map((m) => m.method)).toEqual(["paired"]);
    // Every pair measured is in the look, less the pairs of reps seen slowed by something else.
    const m = looks?.[0];
    expect(
      (m?.reps.base ?? 0) + (m?.slowed?.dropped ? (m.slowed.base ?? 0) + (m.slowed.head ?? 0) : 0),
    ).toBeGreaterThanOrEqual(12);
    expect(m?.unit).toBe("x");
    // No decode (an FVP's cycles): every timed metric drives the session.
    const noDecode = look(withFirstToken(data, "decode_tokens_per_sec"), config, "pi5", false);
    expect(noDecode?.map((c) => c.better)).toEqual(["lower"]);
    expect(look(data, config, "pi5", true)).toBeNull();
  });

  it("stops when decided, at the cap, or when the next block would not fit the budget; else asks for what fits", () => {
    const open = [comparison("inconclusive", 8)];
    expect(nextBlock([comparison("regression", 0)], 10, 60, 1200, 32)).toBe("decided");
    expect(nextBlock([comparison("inconclusive", 0)], 32, 60, 1200, 32)).toBe("cap");
    // Asked for 8 more: a block adds at most BLOCK_REPS (then looks again).
    expect(nextBlock(open, 10, 60, 1200, 32)).toBe(BLOCK_REPS);
    // 6 s a rep so far, 18 s left: 3 more fit.
    expect(nextBlock(open, 10, 60, 78, 32)).toBe(3);
    expect(nextBlock(open, 10, 60, 62, 32)).toBe("budget");
    // Never past the cap.
    expect(nextBlock(open, 30, 60, 1200, 32)).toBe(2);
  });

  it("an identical base build: unchanged without measuring, and refused when the bytes differ", async () => {
    const dir = await tempDir("pte-farm-identical-");
    const pte = path.join(dir, "model.pte");
    await writeFile(pte, "the same bytes");
    const man = await manifestFor(pte, "tiny-llama/fp32/portable/host-x86_64@stable");
    const manFile = path.join(dir, "manifest.json");
    await writeFile(manFile, JSON.stringify(man));
    const head = record([100, 101, 99]);
    const headFile = path.join(dir, "run.json");
    await writeFile(
      headFile,
      JSON.stringify({ ...head, pte: { sha256: man.pte.sha256, bytes: man.pte.bytes } }),
    );
    const cmp = parse(comparisonSchema, await identicalComparison(manFile, headFile), "comparison");
    expect(cmp).toMatchObject({
      verdict: "unchanged",
      metrics: {},
      identical: { pte_sha256: man.pte.sha256 },
    });
    await writeFile(headFile, JSON.stringify({ ...head, pte: { sha256: "0".repeat(64), bytes: 1 } }));
    await expect(identicalComparison(manFile, headFile)).rejects.toThrow(
      /not identical; compare against a base run record/,
    );
  });
});
