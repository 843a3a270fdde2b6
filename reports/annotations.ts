/**
 * Failures as GitHub check annotations (the action passes each to `core.error` / `core.warning`).
 * Annotations are plain text, not markdown, so they are cleaned rather than escaped; @actions/core
 * escapes what the workflow-command syntax needs.
 *
 * An infrastructure error is a warning that says it is not a regression: a board that went away
 * says nothing about the change under test.
 */
import { describeNumerics } from "../actions/src/gate/numerics.ts";
import { describeDivergence } from "../actions/src/gate/policy.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import {
  type CellReport,
  formatChangeWithCi,
  isInfra,
  outcomeOf,
  reproduceOf,
  usableComparison,
} from "./cell-report.ts";
import { plainText } from "./escape.ts";

export interface Annotation {
  level: "error" | "warning";
  title: string;
  message: string;
}

/** GitHub shows at most 10 annotations of each level per step; the rest would vanish silently. */
export const MAX_ANNOTATIONS_PER_LEVEL = 10;

const TITLE_MAX = 200;
const MESSAGE_MAX = 2000;

function annotation(level: Annotation["level"], title: string, lines: readonly string[]): Annotation {
  return {
    level,
    title: plainText(title, TITLE_MAX),
    message: plainText(lines.filter((l) => l !== "").join("\n"), MESSAGE_MAX, { keepNewlines: true }),
  };
}

function forCell(c: CellReport): Annotation | null {
  const r = c.head;
  const id = r.cell.id;
  const failure = r.failure;
  const reproduce = `reproduce: ${reproduceOf(c)}`;
  if (isInfra(r)) {
    return annotation("warning", `infrastructure error (${r.status}), not a regression: ${id}`, [
      failure === null ? "" : `${failure.stage ? `stage ${failure.stage}: ` : ""}${failure.message}`,
      failure?.triage ?? "",
      "Rerun the job; this says nothing about the change under test.",
    ]);
  }
  if (r.status !== "pass") {
    const d = r.gate?.first_divergence;
    if (r.gate?.verdict === "fail") {
      return annotation("error", `gate failed: ${id}`, [
        d ? `first divergence: ${describeDivergence(d)}` : "",
        r.gate.numerics?.verdict === "fail" ? describeNumerics(r.gate.numerics) : "",
        `fp32 agreement ${r.gate.fp32_agreement.matching_prefix}/${r.gate.fp32_agreement.total} tokens`,
        failure?.triage ?? "",
        reproduce,
      ]);
    }
    return annotation("error", `${failure?.stage ?? "cell"} failed: ${id}`, [
      failure?.message ?? `status ${r.status}`,
      failure?.triage ?? "",
      reproduce,
    ]);
  }
  if (outcomeOf(c) === "regression") {
    const cmp = usableComparison(c);
    const regressed = Object.entries(cmp?.metrics ?? {})
      .filter(([, m]) => m.verdict === "regression")
      .map(
        ([name, m]) => `${name} ${formatChangeWithCi(m)} (${m.method}, ${m.reps.base}/${m.reps.head} reps)`,
      );
    return annotation("error", `regression: ${id}`, [...regressed, reproduce]);
  }
  return null;
}

/**
 * One annotation per failed gate, failed stage, infrastructure error and regression (in that
 * input's order), at most {@link MAX_ANNOTATIONS_PER_LEVEL} per level: the last one of a level
 * that overflows says how many more there are. Accepts bare records (no regressions then).
 */
export function failureAnnotations(cells: readonly CellReport[] | readonly RunRecord[]): Annotation[] {
  const reports: CellReport[] = cells.map((c) => ("schema" in c ? { head: c } : c));
  const all = reports.map(forCell).filter((a): a is Annotation => a !== null);
  const out: Annotation[] = [];
  for (const level of ["error", "warning"] as const) {
    const of = all.filter((a) => a.level === level);
    if (of.length <= MAX_ANNOTATIONS_PER_LEVEL) {
      out.push(...of);
      continue;
    }
    const shown = of.slice(0, MAX_ANNOTATIONS_PER_LEVEL - 1);
    const rest = of.length - shown.length;
    out.push(...shown, {
      level,
      title: `… and ${rest} more ${level === "error" ? "failures" : "warnings"}`,
      message: plainText(
        `Not shown as annotations (GitHub shows ${MAX_ANNOTATIONS_PER_LEVEL} per level): ${of
          .slice(shown.length)
          .map((a) => a.title)
          .join("; ")}. See the job summary.`,
        MESSAGE_MAX,
      ),
    });
  }
  return out;
}
