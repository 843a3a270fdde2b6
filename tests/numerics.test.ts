/**
 * The numerics gate's rules (gate/numerics.ts) and where people see it (reports/numerics.ts, the
 * PR comment): the worst drift over prompts, a non-finite logit as the worst there is, a recipe
 * without tolerance reporting only, and the comment's note shown only where the drift moved.
 */
import { describe, expect, it } from "vitest";
import { describeNumerics, gateNumerics, referenceLogits } from "../actions/src/gate/numerics.ts";
import type { NumericsGate, RunRecord } from "../actions/src/schemas/run-record.ts";
import type { ExecuteNumerics, ReferenceData } from "../actions/src/schemas/stage.ts";
import { numericsMoved } from "../reports/numerics.ts";
import { renderPrComment } from "../reports/pr-comment.ts";
import { sampleRecord } from "./helpers/record.ts";

const prompt = (max: number | null, at: number, margin = 5, steps = 24) => ({
  steps,
  max_abs_dlogit: max,
  at_step: at,
  min_margin: margin,
  min_margin_at: 3,
});
const data = (...prompts: ReturnType<typeof prompt>[]): ExecuteNumerics => ({
  reference: "fp32",
  top_k: 64,
  prompts,
});
const TOL = { max_abs_dlogit: 0.01, why: "test" };

describe("the numerics gate", () => {
  it("takes the worst prompt and step, and fails over the tolerance", () => {
    const g = gateNumerics(data(prompt(0.002, 4), prompt(0.5, 17, 2.5)), TOL);
    expect(g).toMatchObject({
      verdict: "fail",
      worst: { prompt_index: 1, step: 17, max_abs_dlogit: 0.5 },
      min_margin: { prompt_index: 1, step: 3, value: 2.5 },
    });
    expect(describeNumerics(g)).toBe(
      "numerics fail: prompt 1 step 17: max |Δlogit| 0.5 > 0.01 against the fp32 eager reference (top 64 logits)",
    );
    expect(gateNumerics(data(prompt(0.002, 4), prompt(0.01, 9)), TOL).verdict).toBe("pass");
  });

  it("counts a non-finite logit (null) as the worst drift there is", () => {
    const g = gateNumerics(data(prompt(1e9, 2), prompt(null, 6)), TOL);
    expect(g).toMatchObject({ verdict: "fail", worst: { prompt_index: 1, step: 6, max_abs_dlogit: null } });
    expect(describeNumerics(g)).toContain("prompt 1 step 6: a non-finite logit");
    expect(gateNumerics(data(prompt(null, 0)), { max_abs_dlogit: 1e308, why: "huge" }).verdict).toBe("fail");
  });

  it("reports without gating when the recipe sets no tolerance; ignores prompts with no step compared", () => {
    expect(gateNumerics(data(prompt(40, 1)), null).verdict).toBe("report");
    const g = gateNumerics(data(prompt(9, 0, 5, 0), prompt(0.001, 2)), TOL);
    expect(g).toMatchObject({ verdict: "pass", worst: { prompt_index: 1 } });
  });

  it("hands execute the eager run the token gate uses, and nothing when the reference kept no logits", () => {
    const top = { k: 2, ids: [[3, 1]], values: [[9.5, 1.25]] };
    const run = (ids: number[], withTop: boolean) => ({
      ids,
      pieces: ids.map(String),
      min_margin: 8,
      ...(withTop ? { logits_top: top } : {}),
    });
    const ref = (quantized: boolean, withTop = true): ReferenceData => ({
      prompts: [
        {
          prompt: "p",
          prompt_ids: [1, 2],
          fp32: run([3], withTop),
          quantized: quantized ? run([4], withTop) : null,
        },
      ],
    });
    expect(referenceLogits(ref(false), "fp32")).toEqual([{ reference: "fp32", ids: [3], top }]);
    expect(referenceLogits(ref(true), "quantized")).toEqual([{ reference: "quantized", ids: [4], top }]);
    expect(referenceLogits(ref(true, false), "quantized")).toBeUndefined();
  });
});

describe("the PR comment's logits-drift note", () => {
  const withNumerics = (g: NumericsGate | undefined, over: Partial<RunRecord> = {}): RunRecord => {
    const r = sampleRecord(over);
    return {
      ...r,
      gate: {
        verdict: g?.verdict === "fail" ? "fail" : "pass",
        policy: { reference: "fp32", fp32: "gate" },
        first_divergence: null,
        fp32_agreement: { matching_prefix: 24, total: 24 },
        ...(g === undefined ? {} : { numerics: g }),
      },
    };
  };
  const g = (max: number | null) => gateNumerics(data(prompt(max, 5)), TOL);

  it("shows a cell only when its drift moved against the base", () => {
    const same = { head: withNumerics(g(2e-6)), base: withNumerics(g(3e-6), { role: "base" }) };
    const grew = { head: withNumerics(g(0.004)), base: withNumerics(g(6e-6), { role: "base" }) };
    const over = { head: withNumerics(g(0.8)), base: withNumerics(g(0.004), { role: "base" }) };
    const lone = { head: withNumerics(g(0.8)) };
    expect([same, grew, over, lone].map(numericsMoved)).toEqual([false, true, true, true]);
    expect(numericsMoved({ head: withNumerics(g(0.001)) })).toBe(false);
    expect(numericsMoved({ head: withNumerics(undefined) })).toBe(false);
    expect(renderPrComment({ cells: [same] })).not.toContain("Logits drift");
    const text = renderPrComment({ cells: [same, grew] });
    expect(text).toContain("#### Logits drift");
    expect(text).toMatch(
      /\| `tiny-llama\/fp32\/portable\/pi5@stable` \| 6\.0e-6 \(p0:t5\) \| 4\.0e-3 \(p0:t5\) \| 0\.01 \| ✅ within \|/,
    );
  });
});
