/**
 * The compare output (`pte-farm/compare@1`, DESIGN.md "Compare output") as a validator. compare.ts
 * writes it from trusted code; farm-report reads it back from a pull request's artefact, where it
 * is hostile data, so every field is checked where it is read.
 *
 * `_sameShape` at the bottom of compare/verdicts.ts keeps this in step with its `Comparison`
 * interface: if either changes alone, that file stops typechecking.
 */
import {
  arr,
  bool,
  type Check,
  literal,
  nonNegInt,
  nullable,
  num,
  obj,
  optional,
  record,
  str,
  ValidationError,
  withJsonSchema,
} from "../core/validate.ts";
import { adaptiveSession, fragmentationReport } from "./stage.ts";

export const VERDICTS = ["regression", "improvement", "unchanged", "inconclusive"] as const;
export type Verdict = (typeof VERDICTS)[number];

const verdict = literal(...VERDICTS);

const numbers = arr(num);
/** A confidence interval `[lo, hi]`: exactly two finite numbers. */
const interval: Check<[number, number]> = withJsonSchema(
  (v, path) => {
    const xs = numbers(v, path);
    if (xs.length !== 2) throw new ValidationError("", path, `expected [lo, hi], got ${xs.length} numbers`);
    return [xs[0] as number, xs[1] as number];
  },
  { type: "array", items: { type: "number" }, minItems: 2, maxItems: 2 },
);

const metricComparison = obj({
  verdict,
  ratio: nullable(num),
  ci: nullable(interval),
  p_value: nullable(num),
  more_samples: nonNegInt,
  unit: str,
  better: literal("higher", "lower"),
  method: literal("paired", "unpaired", "exact", "none"),
  reps: obj({ base: nonNegInt, head: nonNegInt }),
  excluded: obj({ base: nonNegInt, head: nonNegInt }),
  slowed: optional(obj({ base: nonNegInt, head: nonNegInt, dropped: bool })),
  min_effect: num,
  note: nullable(str),
});

const side = obj({ session: str, git_sha: nullable(str), toolchain: str });

export const comparison = obj({
  schema: literal("pte-farm/compare@1"),
  cell: str,
  base: side,
  head: side,
  paired: bool,
  verdict,
  metrics: record(metricComparison),
  notes: arr(str),
  fragmentation: optional(fragmentationReport),
  /** OPTIONAL (issue 16): base and head .pte are byte-identical, so nothing was measured. */
  identical: optional(obj({ pte_sha256: str })),
  /** OPTIONAL (issue 16): an interleaved session's blocks, reps per side, time and why it stopped. */
  adaptive: optional(adaptiveSession),
});
