/**
 * The token gate: a `.pte` passes when its greedy tokens equal the reference's, bit for bit, for
 * every prompt. Pure — the pipeline hands in the reference and execute stages' data.
 *
 * Which reference: an FP32 recipe is gated against FP32 eager. A quantized recipe is gated against
 * the eager *quantized* model (the `.pte` must not add error of its own); its agreement with FP32
 * is reported as a matching prefix and gated only when the policy says `fp32: "gate"`.
 *
 * A CNN's "tokens" are its top-1 class per evaluation image, so the same rule is a top-1 gate.
 * Its quantized reference also carries `output_q` (the INT8 output codes of the PyTorch quantized
 * model), and the policy bounds the `.pte`'s codes to {@link OUTPUT_Q_BOUND} quantum of them: the
 * TOSA RESCALE is integer arithmetic (a fixed-point multiplier and shift) where PyTorch's Q/DQ
 * graph rounds in float, so a value at a rounding tie may land one code apart. Measured on the
 * shipped CNNs: 4 of 100 codes differ by one (1 of 100 with the LRN layer), none by more.
 */
import type { Divergence, GatePolicy, GateResult, OutputAgreement } from "../schemas/run-record.ts";
import type { ExecuteData, ReferenceData } from "../schemas/stage.ts";

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
  if (!quantized) return { reference: "fp32", fp32: "gate" };
  const codes = reference.every((p) => p.quantized?.output_q !== undefined);
  return {
    reference: "quantized",
    fp32: fp32 ?? "report",
    ...(codes ? { max_abs_diff_q: OUTPUT_Q_BOUND } : {}),
  };
}

/** The INT8 output bound for CNN models, in quanta (see the file comment for why one, not zero). */
export const OUTPUT_Q_BOUND = 1;

function outputAgreement(
  reference: readonly ReferencePrompt[],
  actual: readonly ActualPrompt[],
  bound: number,
): OutputAgreement {
  const worst: OutputAgreement = {
    max_abs_diff_q: 0,
    bound_q: bound,
    prompt_index: 0,
    position: 0,
    differing: 0,
    total: 0,
  };
  reference.forEach((ref, p) => {
    const want = ref.quantized?.output_q;
    const got = actual[p]?.output_q;
    if (want === undefined || got === undefined || want.length !== got.length) {
      throw new GateInputError(
        `prompt ${p}: the policy bounds INT8 outputs but the reference has ${want?.length ?? "no"} codes ` +
          `and execute ${got?.length ?? "none"}`,
      );
    }
    want.forEach((w, i) => {
      const d = Math.abs(w - (got[i] as number));
      worst.total++;
      if (d > 0) worst.differing++;
      if (d > worst.max_abs_diff_q) Object.assign(worst, { max_abs_diff_q: d, prompt_index: p, position: i });
    });
  });
  return worst;
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
  const bound = policy.max_abs_diff_q;
  const outputs = bound === undefined ? undefined : outputAgreement(reference, actual, bound);
  const withinBound = outputs === undefined || outputs.max_abs_diff_q <= outputs.bound_q;
  return {
    verdict: divergence === null && withinBound ? "pass" : "fail",
    policy,
    first_divergence: divergence,
    fp32_agreement: { matching_prefix: matching, total },
    ...(outputs === undefined ? {} : { outputs }),
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
