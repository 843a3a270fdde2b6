import { describe, expect, it } from "vitest";
import { mannWhitneyLowerP, welchLowerP } from "../actions/src/stats/baselines.ts";
import { decide } from "../actions/src/stats/decide.ts";
import { normalQuantile, tCdf, tQuantile } from "../actions/src/stats/distributions.ts";
import { pairedLogEffect } from "../actions/src/stats/paired.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { mad, median, trimmedMean, winsorizedVariance } from "../actions/src/stats/robust.ts";
import { unpairedLogEffect } from "../actions/src/stats/unpaired.ts";
import { pairedSession, separateSessions } from "../scripts/synthetic-sessions.ts";

const OPTS = { better: "higher" as const, minEffect: 0.03, confidence: 0.99, betweenSd: 0, maxReps: 32 };

describe("distributions", () => {
  it("gives textbook t and normal quantiles", () => {
    expect(tQuantile(0.975, 5)).toBeCloseTo(2.5706, 3);
    expect(tQuantile(0.995, 10)).toBeCloseTo(3.1693, 3);
    expect(tCdf(2.015, 5)).toBeCloseTo(0.95, 3);
    expect(normalQuantile(0.975)).toBeCloseTo(1.95996, 4);
  });
});

describe("robust estimators", () => {
  it("ignore one wild value that would drag a mean", () => {
    const xs = [10, 10.1, 9.9, 10.05, 9.95, 10.02, 9.98, 10.03, 9.97, 6];
    expect(median(xs)).toBeCloseTo(10.0, 1);
    expect(trimmedMean(xs)).toBeCloseTo(10.0, 1);
    expect(mad(xs)).toBeLessThan(0.1);
    expect(winsorizedVariance(xs)).toBeLessThan(0.01);
  });
});

describe("paired effect", () => {
  it("pins the trimmed log-ratio, its SE and the 99% CI on a seeded session with a 10% drop", () => {
    const s = pairedSession(seededRng(7), 0.1, 16);
    const e = pairedLogEffect(s.base, s.head);
    expect(e.n).toBe(16);
    expect(e.df).toBe(9); // 16 − 2·3 trimmed − 1
    expect(Math.exp(e.estimate)).toBeCloseTo(0.9059, 3);
    expect(e.se).toBeCloseTo(0.00507, 4);
    const d = decide(e, OPTS);
    expect(d.ci[0]).toBeCloseTo(0.891, 3);
    expect(d.ci[1]).toBeCloseTo(0.9209, 3);
    expect(d.p_value).toBeLessThan(1e-6);
    expect(d.verdict).toBe("regression");
  });
});

describe("unpaired effect with a between-session term", () => {
  it("widens the CI by the session spread, which turns a no-change 'unchanged' into 'inconclusive', never a regression", () => {
    const s = separateSessions(seededRng(11), 0, 24);
    const e = unpairedLogEffect(s.base, s.head);
    expect(Math.exp(e.estimate)).toBeCloseTo(0.9992, 3);
    const without = decide(e, OPTS);
    const withTerm = decide(e, { ...OPTS, betweenSd: 0.015 });
    expect(withTerm.ci[1] - withTerm.ci[0]).toBeGreaterThan(without.ci[1] - without.ci[0]);
    expect(withTerm.ci[0]).toBeCloseTo(0.9469, 3);
    expect(withTerm.ci[1]).toBeCloseTo(1.0543, 3);
    expect(withTerm.p_value).toBeCloseTo(0.9661, 3);
    expect(without.verdict).toBe("unchanged");
    expect(withTerm.verdict).toBe("inconclusive");
    expect(withTerm.more_samples).toBe(8);
  });

  it("asks for no more reps when only interleaving could decide", () => {
    const d = decide({ estimate: -0.03, se: 0.005, df: 20, n: 16 }, { ...OPTS, betweenSd: 0.015 });
    expect(d.verdict).toBe("inconclusive");
    expect(d.more_samples).toBe(0);
    expect(d.note).toContain("interleaved in one session");
  });
});

describe("more_samples", () => {
  it("estimates the reps per side from the observed spread", () => {
    const d = decide({ estimate: -0.01, se: 0.02, df: 5, n: 8 }, OPTS);
    expect(d.verdict).toBe("inconclusive");
    // per-rep SD 0.02·√8 ≈ 5.7%; ±(3% − 1%)·0.9 at 90% needs ≈ 8·(0.02/0.0108)²·(t/1.70)² reps in all
    expect(d.more_samples).toBe(23);
  });

  it("is capped: never asks past max_reps, and 0 at the cap", () => {
    expect(decide({ estimate: -0.01, se: 0.05, df: 5, n: 8 }, OPTS).more_samples).toBe(24);
    const atCap = decide({ estimate: -0.01, se: 0.02, df: 19, n: 32 }, OPTS);
    expect(atCap.more_samples).toBe(0);
    expect(atCap.note).toBe("at the cap of 32 reps per side");
  });
});

describe("baseline tests used by bench-compare", () => {
  it("Welch one-sided p on a clear separation", () => {
    expect(welchLowerP([4, 5, 6], [1, 2, 3])).toBeCloseTo(0.0107, 3);
  });
  it("Mann–Whitney one-sided p (normal approximation, continuity corrected)", () => {
    expect(mannWhitneyLowerP([4, 5, 6], [1, 2, 3])).toBeCloseTo(0.0404, 3);
    expect(mannWhitneyLowerP([1, 2, 3], [4, 5, 6])).toBeGreaterThan(0.9);
  });
});
