/**
 * The token gate: a `.pte` passes when its greedy tokens equal the reference's, bit for bit, for
 * every prompt. Pure — the pipeline hands in the reference and execute stages' data.
 *
 * Which reference: an FP32 recipe is gated against FP32 eager. A quantized recipe is gated against
 * the eager *quantized* model (the `.pte` must not add error of its own); its agreement with FP32
 * is reported as a matching prefix and gated only when the policy says `fp32: "gate"`.
 */
import type { Divergence, GatePolicy, GateResult } from "./schemas/run-record.ts";
import type { ExecuteData, ReferenceData } from "./schemas/stage.ts";

type ReferencePrompt = ReferenceData["prompts"][number];
type ActualPrompt = ExecuteData["prompts"][number];

/** Thrown when the two stages' data cannot be compared at all (a broken contract, not a failed gate). */
export class GateInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GateInputError";
  }
}

/**
 * The default policy for a recipe, from the reference data itself: a reference with quantized
 * tokens means a quantized recipe. `fp32` overrides how FP32 agreement counts.
 */
export function defaultPolicy(reference: readonly ReferencePrompt[], fp32?: "gate" | "report"): GatePolicy {
  const quantized = reference.length > 0 && reference.every((p) => p.quantized !== null);
  return quantized ? { reference: "quantized", fp32: fp32 ?? "report" } : { reference: "fp32", fp32: "gate" };
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function firstDivergence(
  which: "fp32" | "quantized",
  reference: readonly ReferencePrompt[],
  actual: readonly ActualPrompt[],
): Divergence | null {
  for (let p = 0; p < reference.length; p++) {
    const ref = reference[p];
    const act = actual[p];
    const expected = which === "fp32" ? ref?.fp32 : ref?.quantized;
    if (ref === undefined || act === undefined || expected == null) {
      throw new GateInputError(`prompt ${p}: no ${which} reference tokens to gate against`);
    }
    const at = commonPrefix(expected.ids, act.ids);
    if (at === expected.ids.length && at === act.ids.length) continue;
    return {
      reference: which,
      prompt_index: p,
      position: at,
      expected_id: expected.ids[at] ?? null,
      expected_text: at < expected.ids.length ? (expected.pieces[at] ?? null) : null,
      actual_id: act.ids[at] ?? null,
      actual_text: at < act.ids.length ? (act.pieces[at] ?? null) : null,
    };
  }
  return null;
}

/** Gates the execute stage's tokens against the reference under `policy`. */
export function gate(
  reference: readonly ReferencePrompt[],
  actual: readonly ActualPrompt[],
  policy: GatePolicy,
): GateResult {
  if (reference.length !== actual.length) {
    throw new GateInputError(`reference has ${reference.length} prompts but execute has ${actual.length}`);
  }
  reference.forEach((ref, p) => {
    const got = actual[p]?.prompt_ids ?? [];
    if (commonPrefix(ref.prompt_ids, got) !== ref.prompt_ids.length || got.length !== ref.prompt_ids.length) {
      throw new GateInputError(`prompt ${p}: execute ran prompt ids that differ from the reference's`);
    }
  });

  let matching = 0;
  let total = 0;
  reference.forEach((ref, p) => {
    matching += commonPrefix(ref.fp32.ids, actual[p]?.ids ?? []);
    total += ref.fp32.ids.length;
  });

  let divergence = firstDivergence(policy.reference, reference, actual);
  if (divergence === null && policy.reference === "quantized" && policy.fp32 === "gate") {
    divergence = firstDivergence("fp32", reference, actual);
  }
  return {
    verdict: divergence === null ? "pass" : "fail",
    policy,
    first_divergence: divergence,
    fp32_agreement: { matching_prefix: matching, total },
  };
}

/** "prompt 0, token 5: expected 311 " Paris", got 412 " Rome" (vs quantized reference)". */
export function describeDivergence(d: Divergence): string {
  const show = (id: number | null, text: string | null) =>
    id === null ? "end of output" : `${id} ${JSON.stringify(text ?? "")}`;
  return (
    `prompt ${d.prompt_index}, token ${d.position}: expected ${show(d.expected_id, d.expected_text)}, ` +
    `got ${show(d.actual_id, d.actual_text)} (vs ${d.reference} reference)`
  );
}
