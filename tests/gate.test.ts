import { describe, expect, it } from "vitest";
import { defaultPolicy, describeDivergence, GateInputError, gate } from "../actions/src/gate/policy.ts";
import type { ExecuteData, ReferenceData } from "../actions/src/schemas/stage.ts";

type Ref = ReferenceData["prompts"][number];
type Act = ExecuteData["prompts"][number];

const PIECES: Record<number, string> = {
  10: " Paris",
  11: " .",
  12: " It",
  13: " lies",
  20: " Rome",
  30: " there",
  31: " was",
};
const toks = (ids: number[]) => ({ ids, pieces: ids.map((i) => PIECES[i] ?? `<${i}>`), min_margin: 3.5 });
const ref = (fp32: number[], quantized: number[] | null = null, prompt_ids = [1, 5, 6]): Ref => ({
  prompt: "The capital of France is",
  prompt_ids,
  fp32: toks(fp32),
  quantized: quantized === null ? null : toks(quantized),
});
const act = (ids: number[], prompt_ids = [1, 5, 6]): Act => ({
  prompt_ids,
  ids,
  pieces: ids.map((i) => PIECES[i] ?? `<${i}>`),
});

describe("gate", () => {
  it("passes an fp32 recipe whose tokens equal the fp32 reference for every prompt", () => {
    const reference = [ref([10, 11, 12]), ref([30, 31], null, [1, 7])];
    const result = gate(reference, [act([10, 11, 12]), act([30, 31], [1, 7])], defaultPolicy(reference));
    expect(result).toEqual({
      verdict: "pass",
      policy: { reference: "fp32", fp32: "gate" },
      first_divergence: null,
      fp32_agreement: { matching_prefix: 5, total: 5 },
    });
  });

  it("fails at the first divergent position, naming expected and actual ids and text", () => {
    const reference = [ref([10, 11]), ref([10, 11, 12, 13], null, [1, 7])];
    const result = gate(reference, [act([10, 11]), act([10, 11, 20, 13], [1, 7])], defaultPolicy(reference));
    expect(result.verdict).toBe("fail");
    expect(result.first_divergence).toEqual({
      reference: "fp32",
      prompt_index: 1,
      position: 2,
      expected_id: 12,
      expected_text: " It",
      actual_id: 20,
      actual_text: " Rome",
    });
    expect(result.fp32_agreement).toEqual({ matching_prefix: 4, total: 6 });
    if (result.first_divergence === null) throw new Error("expected a divergence");
    expect(describeDivergence(result.first_divergence)).toBe(
      'prompt 1, token 2: expected 12 " It", got 20 " Rome" (vs fp32 reference)',
    );
  });

  it("fails a .pte that stops early, with null for the missing actual token", () => {
    const reference = [ref([10, 11, 12])];
    const d = gate(reference, [act([10, 11])], defaultPolicy(reference)).first_divergence;
    expect(d).toMatchObject({ position: 2, expected_id: 12, actual_id: null, actual_text: null });
  });

  it("gates a quantized recipe against the quantized reference and only reports fp32 agreement", () => {
    const reference = [ref([10, 11, 12, 13], [10, 11, 20, 13])];
    const policy = defaultPolicy(reference);
    expect(policy).toEqual({ reference: "quantized", fp32: "report" });
    const result = gate(reference, [act([10, 11, 20, 13])], policy);
    expect(result.verdict).toBe("pass");
    expect(result.fp32_agreement).toEqual({ matching_prefix: 2, total: 4 });
  });

  it("fails a quantized recipe on fp32 divergence when the policy says fp32: gate", () => {
    const reference = [ref([10, 11, 12, 13], [10, 11, 20, 13])];
    const result = gate(reference, [act([10, 11, 20, 13])], defaultPolicy(reference, "gate"));
    expect(result.verdict).toBe("fail");
    expect(result.first_divergence).toMatchObject({
      reference: "fp32",
      position: 2,
      expected_id: 12,
      actual_id: 20,
    });
  });

  it("fails a quantized .pte that differs from the eager quantized model even if it matches fp32", () => {
    const reference = [ref([10, 11, 12], [10, 11, 20])];
    const result = gate(reference, [act([10, 11, 12])], defaultPolicy(reference));
    expect(result.verdict).toBe("fail");
    expect(result.first_divergence).toMatchObject({ reference: "quantized", expected_id: 20, actual_id: 12 });
    expect(result.fp32_agreement).toEqual({ matching_prefix: 3, total: 3 });
  });

  it("refuses to compare data from different prompts (a broken contract, not a failed gate)", () => {
    const reference = [ref([10])];
    expect(() => gate(reference, [act([10], [1, 2])], defaultPolicy(reference))).toThrow(GateInputError);
    expect(() => gate(reference, [], defaultPolicy(reference))).toThrow(
      /reference has 1 prompts but execute has 0/,
    );
  });
});
