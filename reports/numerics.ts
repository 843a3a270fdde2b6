/**
 * The PR comment's numerics note: the logits drift against the eager reference (gate/numerics.ts),
 * shown only for cells where it moved — the head's largest |Δlogit| differs from the base's by more
 * than {@link MOVED_FACTOR}× (and more than {@link MOVED_FLOOR}), or its verdict is not the base's,
 * or the head fails with no base to compare. A drift that did not move is noise for the PR author.
 */
import { fmt } from "../actions/src/gate/numerics.ts";
import type { NumericsGate } from "../actions/src/schemas/run-record.ts";
import type { CellReport } from "./cell-report.ts";
import { codeSpan } from "./escape.ts";

/** A change in max |Δlogit| smaller than this factor either way is the same drift. */
export const MOVED_FACTOR = 2;
/** Below this absolute change the drift has not moved (fp32 rounding differences are ~1e-6). */
export const MOVED_FLOOR = 1e-4;

const worstOf = (g: NumericsGate | undefined) =>
  g?.worst === null || g?.worst === undefined
    ? undefined
    : (g.worst.max_abs_dlogit ?? Number.POSITIVE_INFINITY);

/** Whether the head's drift moved from the base's (see the file comment). */
export function numericsMoved(c: CellReport): boolean {
  const head = c.head.gate?.numerics;
  if (head === undefined) return false;
  const base = c.base?.gate?.numerics;
  if (base === undefined) return head.verdict === "fail";
  if (base.verdict !== head.verdict) return true;
  const [h, b] = [worstOf(head), worstOf(base)];
  if (h === undefined || b === undefined) return h !== b;
  if (!Number.isFinite(h) || !Number.isFinite(b)) return h !== b;
  if (Math.abs(h - b) <= MOVED_FLOOR) return false;
  const [lo, hi] = h < b ? [h, b] : [b, h];
  return lo === 0 || hi / lo > MOVED_FACTOR;
}

const shown = (g: NumericsGate | undefined) => {
  const w = worstOf(g);
  if (g === undefined || w === undefined) return "—";
  const where = g.worst === null ? "" : ` (p${g.worst.prompt_index}:t${g.worst.step})`;
  return `${Number.isFinite(w) ? fmt(w) : "non-finite"}${where}`;
};

/** The note's block, or null when no cell's drift moved. */
export function numericsNote(cells: readonly CellReport[]): string | null {
  const moved = cells.filter(numericsMoved);
  if (moved.length === 0) return null;
  const rows = moved.slice(0, 20).map((c) => {
    const h = c.head.gate?.numerics as NumericsGate;
    const tol = h.tolerance === null ? "not gated" : fmt(h.tolerance.max_abs_dlogit);
    const verdict = h.verdict === "fail" ? "❌ over" : h.verdict === "pass" ? "✅ within" : "reported";
    return `| ${codeSpan(c.head.cell.id, { max: 160 })} | ${shown(c.base?.gate?.numerics)} | ${shown(h)} | ${tol} | ${verdict} |`;
  });
  return [
    "#### Logits drift",
    `Largest \\|Δlogit\\| against the ${moved.length === 1 ? "cell's" : "cells'"} eager reference (top logits, every generated step), shown where it moved:`,
    `| cell | base | head | tolerance | |\n|---|---|---|---|---|\n${rows.join("\n")}`,
  ].join("\n\n");
}
