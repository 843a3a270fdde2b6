/**
 * Cell ids: `model/recipe/backend/device@toolchain`, e.g.
 * `tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable`. The one spelling shared by `plan` (CI logs),
 * `run --cells` (a laptop), every report and the release manifest, so an id copied from one works in
 * the others.
 */
import type { CellRef } from "./stage.ts";

export function cellId(ref: CellRef): string {
  return `${ref.model}/${ref.recipe}/${ref.backend}/${ref.device}@${ref.toolchain}`;
}

/** The parts of an exact cell id, or null when it is not shaped like one. */
export function parseCellId(id: string): CellRef | null {
  const m = /^([^/@*?]+)\/([^/@*?]+)\/([^/@*?]+)\/([^/@*?]+)@([^/@*?]+)$/.exec(id);
  if (m === null) return null;
  const [, model = "", recipe = "", backend = "", device = "", toolchain = ""] = m;
  return { model, recipe, backend, device, toolchain };
}
