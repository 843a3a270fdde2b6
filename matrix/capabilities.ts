/**
 * Which cells can exist at all, derived from what each part declares it can do, never from a hand
 * list: a backend's `targets` (drivers, architectures, devices), a recipe's `backends`, and a model
 * kind's recipes and backends (`model_kinds`). An impossible combination is not a "skip": a cross
 * product silently drops it, and naming one explicitly is a validation error (checks.ts).
 */
import type { CellRef } from "../actions/src/schemas/stage.ts";
import type { Farm } from "./types.ts";

const list = (names: readonly string[]) => names.join(", ");

/** Why `ref` cannot be a cell of `farm`, or null when it can. Every name must exist in the farm. */
export function whyImpossible(farm: Farm, ref: CellRef): string | null {
  const model = farm.models.get(ref.model);
  const recipe = farm.recipes.get(ref.recipe);
  const backend = farm.backends.get(ref.backend);
  const device = farm.devices.get(ref.device);
  if (model === undefined || recipe === undefined || backend === undefined || device === undefined) {
    throw new Error(`bug: whyImpossible called with an unknown name in ${JSON.stringify(ref)}`);
  }
  const caps = farm.kindCaps.get(model.kind);
  if (caps?.recipes != null && !caps.recipes.includes(ref.recipe)) {
    return `a ${model.kind} model (${ref.model}) uses only recipes ${list(caps.recipes)} (model_kinds.${model.kind}.recipes)`;
  }
  if (caps?.backends != null && !caps.backends.includes(ref.backend)) {
    return `a ${model.kind} model (${ref.model}) uses only backends ${list(caps.backends)} (model_kinds.${model.kind}.backends)`;
  }
  if (recipe.backends !== null && !recipe.backends.includes(ref.backend)) {
    return `recipe ${ref.recipe} suits only backends ${list(recipe.backends)}`;
  }
  const t = backend.targets;
  if (t.drivers !== undefined && !t.drivers.includes(device.driver)) {
    return `backend ${ref.backend} runs only through drivers ${list(t.drivers)}; device ${ref.device} uses ${device.driver}`;
  }
  if (t.arch !== undefined && !t.arch.includes(device.arch)) {
    return `backend ${ref.backend} targets only ${list(t.arch)}; device ${ref.device} is ${device.arch}`;
  }
  if (t.devices !== undefined && !t.devices.includes(ref.device)) {
    return `backend ${ref.backend} targets only devices ${list(t.devices)}`;
  }
  return null;
}
