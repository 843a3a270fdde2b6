/**
 * The fragmentation alarm: did a change split the delegated graph into more pieces? On an NPU
 * every extra delegated subgraph is a round trip NPU → CPU → NPU with the operators between them
 * on the CPU (one LocalResponseNorm turns a MobileNetV2's single Ethos-U subgraph into two), a
 * performance fact the numbers alone do not show. Pure; the same rule as the lower stage's
 * `fragmentation()` in stages/pte_stages/delegation.py, which runs it when given a base manifest.
 */
import type { Delegation, FragmentationReport } from "../schemas/stage.ts";

function countsMinus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(a).sort()) {
    const d = (a[name] ?? 0) - (b[name] ?? 0);
    if (d > 0) out[name] = d;
  }
  return out;
}

/** Head's delegation against base's: the alarm fires when head has more delegated subgraphs. */
export function fragmentation(base: Delegation, head: Delegation): FragmentationReport {
  const b = base.delegated_subgraphs;
  const h = head.delegated_subgraphs;
  const added = countsMinus(head.cpu_ops, base.cpu_ops);
  const removed = countsMinus(base.cpu_ops, head.cpu_ops);
  let message: string;
  if (h > b) {
    const ops = Object.entries(added).map(([name, n]) => `${name} +${n}`);
    message =
      `fragmented: ${b} → ${h} delegated subgraphs on ${head.backend}; ` +
      `CPU now also runs ${ops.length > 0 ? ops.join(", ") : "no new CPU operators"}`;
  } else if (h < b) {
    message = `fewer delegated subgraphs: ${b} → ${h} on ${head.backend}`;
  } else {
    message = `unchanged: ${h} delegated subgraph${h === 1 ? "" : "s"} on ${head.backend}`;
  }
  return {
    alarm: h > b,
    base_subgraphs: b,
    head_subgraphs: h,
    cpu_ops_added: added,
    cpu_ops_removed: removed,
    message,
  };
}
