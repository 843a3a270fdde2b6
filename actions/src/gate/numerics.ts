/**
 * The numerics gate beside the token gate (issue 17). The execute stage compares the `.pte`'s
 * logits at every generated step with the eager reference's top-k logits of the same recipe (fp32,
 * or the eager quantized model for a quantized recipe; stages/pte_stages/numerics.py) and reports,
 * per prompt, the largest |Δlogit| and where, and its smallest top-1 margin. This gates that drift
 * with the recipe's tolerance from the matrix (`recipes.NAME.numerics`), so a `.pte` that moves its
 * logits far (a sliding window ignored, one layer wrong) fails here even when every greedy token
 * still matches. Pure: the pipeline hands in the data.
 */
import type { Cell } from "../../../matrix/cells.ts";
import type { RecipeDef } from "../../../matrix/types.ts";
import type { NumericsGate } from "../schemas/run-record.ts";
import type { ExecuteNumerics, ReferenceData, ReferenceLogits } from "../schemas/stage.ts";
import { defaultPolicy } from "./policy.ts";

/**
 * What execute compares with: per prompt, the chosen eager run's tokens and top logits. Undefined
 * when the reference has no logits (a CNN, a reference from before they were kept).
 */
export function referenceLogits(
  reference: ReferenceData,
  which: "fp32" | "quantized",
): ReferenceLogits[] | undefined {
  const out: ReferenceLogits[] = [];
  for (const p of reference.prompts) {
    const run = which === "fp32" ? p.fp32 : p.quantized;
    if (run?.logits_top === undefined) return undefined;
    out.push({ reference: which, ids: run.ids, top: run.logits_top });
  }
  return out.length === 0 ? undefined : out;
}

/**
 * The execute request's numerics input for a cell: the eager run its tokens are gated against
 * (the same choice as the token gate's policy), or nothing when the reference kept no logits.
 */
export function numericsInput(
  reference: ReferenceData,
  cell: Pick<Cell, "fp32Gate">,
): { referenceLogits?: ReferenceLogits[] } {
  const logits = referenceLogits(reference, defaultPolicy(reference.prompts, cell.fp32Gate).reference);
  return logits === undefined ? {} : { referenceLogits: logits };
}

/** The drift against the recipe's tolerance; `report` when the recipe sets none. */
export function gateNumerics(n: ExecuteNumerics, tolerance: RecipeDef["numerics"]): NumericsGate {
  let worst: NumericsGate["worst"] = null;
  let lowest: NumericsGate["min_margin"] = null;
  const size = (d: number | null) => d ?? Number.POSITIVE_INFINITY; // null: a non-finite logit
  n.prompts.forEach((p, i) => {
    if (p.steps > 0 && (worst === null || size(p.max_abs_dlogit) > size(worst.max_abs_dlogit)))
      worst = { prompt_index: i, step: p.at_step, max_abs_dlogit: p.max_abs_dlogit };
    if (lowest === null || p.min_margin < lowest.value)
      lowest = { prompt_index: i, step: p.min_margin_at, value: p.min_margin };
  });
  const found = worst as NumericsGate["worst"];
  const over = tolerance !== null && found !== null && size(found.max_abs_dlogit) > tolerance.max_abs_dlogit;
  return {
    verdict: tolerance === null ? "report" : over ? "fail" : "pass",
    reference: n.reference,
    top_k: n.top_k,
    tolerance,
    worst: found,
    min_margin: lowest,
    prompts: n.prompts,
  };
}

/** One line for people: "prompt 1 step 9: max |Δlogit| 10.4 > 0.01 (fp32 reference)". */
export function describeNumerics(g: NumericsGate): string {
  const w = g.worst;
  const where = w === null ? "no step compared" : `prompt ${w.prompt_index} step ${w.step}`;
  const d = w?.max_abs_dlogit === null ? "a non-finite logit" : `max |Δlogit| ${fmt(w?.max_abs_dlogit ?? 0)}`;
  const bound =
    g.tolerance === null ? "" : ` ${g.verdict === "fail" ? ">" : "≤"} ${fmt(g.tolerance.max_abs_dlogit)}`;
  return `numerics ${g.verdict}: ${where}: ${d}${bound} against the ${g.reference} eager reference (top ${g.top_k} logits)`;
}

export function fmt(x: number): string {
  return x === 0 ? "0" : Math.abs(x) >= 0.01 ? String(Number(x.toPrecision(3))) : x.toExponential(1);
}
