import { describe, expect, it } from "vitest";
import { BLOCK_REPS, repsToAdd } from "../actions/src/compare/looks.ts";
import type { MetricComparison } from "../actions/src/compare/verdicts.ts";
import { kolmogorovSmirnovP, pinpointAlert } from "../actions/src/stats/baselines.ts";
import { decide } from "../actions/src/stats/decide.ts";
import { normalQuantile } from "../actions/src/stats/distributions.ts";
import { pairedLogEffect } from "../actions/src/stats/paired.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { boundaryScale, sequentialZ } from "../actions/src/stats/sequential.ts";

describe("sequential boundary", () => {
  it("is the fixed-sample z when the only possible look is at the cap", () => {
    expect(boundaryScale(0.005, 32, 32)).toBeCloseTo(normalQuantile(0.995), 2);
  });

  it("holds alpha for a Gaussian walk looked at after every rep (Monte Carlo, seeded)", () => {
    const rng = seededRng(5);
    let hits = 0;
    const trials = 40_000;
    for (let i = 0; i < trials; i++) {
      let s = 0;
      for (let n = 1; n <= 32; n++) {
        s += rng.normal();
        if (n >= 10 && s / Math.sqrt(n) > sequentialZ(n, 0.005, 10, 32)) {
          hits++;
          break;
        }
      }
    }
    expect(hits / trials).toBeLessThan(0.0065);
    expect(hits / trials).toBeGreaterThan(0.0035);
    expect(sequentialZ(9, 0.005, 10, 32)).toBe(Number.POSITIVE_INFINITY);
  });

  it("keeps false alarms over many looks where a fixed 90% interval per look does not", () => {
    // Null paired sessions, 5% per-rep noise, a look after every 3 reps from 10 to 31; no minimum
    // effect, so only the interval decides.
    const opts = { better: "higher" as const, minEffect: 0, confidence: 0.9, betweenSd: 0, maxReps: 32 };
    const rng = seededRng(21);
    let naive = 0;
    let ours = 0;
    const sessions = 400;
    for (let i = 0; i < sessions; i++) {
      const base = Array.from({ length: 32 }, () => 1 + 0.05 * rng.normal());
      const head = Array.from({ length: 32 }, () => 1 + 0.05 * rng.normal());
      let naiveHit = false;
      let oursHit = false;
      for (let n = 10; n <= 32; n += 3) {
        const e = pairedLogEffect(base.slice(0, n), head.slice(0, n));
        naiveHit ||= decide(e, opts).verdict === "regression";
        oursHit ||= decide(e, { ...opts, sequential: { firstLook: 10 } }).verdict === "regression";
      }
      if (naiveHit) naive++;
      if (oursHit) ours++;
    }
    // At 90% the one-sided α is 5%: ours stays within sampling error of it, the naive rule is far above.
    expect(ours / sessions).toBeLessThanOrEqual(0.07);
    expect(naive / sessions).toBeGreaterThan(0.1);
  });

  it("gives no regression verdict before the first look", () => {
    const e = { estimate: -0.2, se: 0.01, df: 5, n: 8 };
    const opts = { better: "higher" as const, minEffect: 0.03, confidence: 0.99, betweenSd: 0, maxReps: 32 };
    expect(decide(e, opts).verdict).toBe("regression");
    const d = decide(e, { ...opts, sequential: { firstLook: 10 } });
    expect(d.verdict).toBe("inconclusive");
    expect(d.more_samples).toBe(2);
  });
});

describe("repsToAdd", () => {
  const m = (verdict: MetricComparison["verdict"], more: number) =>
    ({ verdict, more_samples: more }) as MetricComparison;
  it("stops when nothing is inconclusive, else asks for the most any open metric needs, a block at a time in whole ABBA quads", () => {
    expect(repsToAdd([m("regression", 0), m("unchanged", 0)])).toBe(0);
    expect(repsToAdd([m("inconclusive", 2), m("inconclusive", 9), m("unchanged", 0)])).toBe(BLOCK_REPS);
    expect(repsToAdd([m("inconclusive", 2), m("unchanged", 0)])).toBe(2);
    // One rep asked for: a whole quad (two a side) is run.
    expect(repsToAdd([m("inconclusive", 1)])).toBe(2);
    expect(repsToAdd([m("inconclusive", 0)])).toBe(0);
  });
});

describe("Kolmogorov–Smirnov and Pinpoint's rule", () => {
  it("KS: D = 1 for separated samples, p by the corrected asymptotic formula", () => {
    // en = √(3·3/6), λ = (en + 0.12 + 0.11/en)·1; p = 2 Σ (−1)^(r−1) e^(−2λ²r²)
    const en = Math.sqrt(1.5);
    const lambda = en + 0.12 + 0.11 / en;
    const expected =
      2 * (Math.exp(-2 * lambda ** 2) - Math.exp(-8 * lambda ** 2) + Math.exp(-18 * lambda ** 2));
    expect(kolmogorovSmirnovP([1, 2, 3], [4, 5, 6])).toBeCloseTo(expected, 6);
    expect(kolmogorovSmirnovP([1, 2, 3], [1, 2, 3])).toBe(1);
  });

  it("Pinpoint: alerts on a clear slowdown, not on the same samples or a speed-up", () => {
    const rng = seededRng(3);
    const base = Array.from({ length: 20 }, () => 10 + 0.1 * rng.normal());
    const slow = base.map((x) => 0.9 * x);
    expect(pinpointAlert(base, slow)).toBe(true);
    expect(pinpointAlert(base, [...base])).toBe(false);
    expect(
      pinpointAlert(
        base,
        base.map((x) => 1.1 * x),
      ),
    ).toBe(false);
  });
});
