/**
 * Cells: one model × recipe × backend × device × toolchain, named `model/recipe/backend/device@toolchain`
 * (e.g. `tiny-llama/8da4w-g32/xnnpack/host@stable`). Selection is by cell set (the `default` set
 * when nothing is asked) or by id glob over every cell the farm can form.
 */
import { ConfigurationError } from "../actions/src/errors.ts";
import type { CellRef } from "../actions/src/schemas/stage.ts";
import type { BackendDef, CellSet, DeviceDef, Farm, ModelDef, RecipeDef, ToolchainDef } from "./load.ts";
import { unknownName } from "./load.ts";

export interface Cell {
  id: string;
  ref: CellRef;
  model: ModelDef;
  recipe: RecipeDef;
  backend: BackendDef;
  device: DeviceDef;
  toolchain: ToolchainDef;
}

export function cellId(ref: CellRef): string {
  return `${ref.model}/${ref.recipe}/${ref.backend}/${ref.device}@${ref.toolchain}`;
}

function expand(farm: Farm, set: CellSet): Cell[] {
  const cells: Cell[] = [];
  const get = <T>(map: Map<string, T>, name: string): T => {
    const v = map.get(name);
    if (v === undefined) throw new Error(`bug: ${name} was validated but is not defined`);
    return v;
  };
  for (const m of set.models)
    for (const r of set.recipes)
      for (const b of set.backends)
        for (const d of set.devices)
          for (const t of set.toolchains) {
            const ref: CellRef = { model: m, recipe: r, backend: b, device: d, toolchain: t };
            cells.push({
              id: cellId(ref),
              ref,
              model: get(farm.models, m),
              recipe: get(farm.recipes, r),
              backend: get(farm.backends, b),
              device: get(farm.devices, d),
              toolchain: get(farm.toolchains, t),
            });
          }
  return cells;
}

/** Every cell the farm can form, in YAML order. */
export function allCells(farm: Farm): Cell[] {
  return expand(farm, {
    models: [...farm.models.keys()],
    recipes: [...farm.recipes.keys()],
    backends: [...farm.backends.keys()],
    devices: [...farm.devices.keys()],
    toolchains: [...farm.toolchains.keys()],
  });
}

/** The cells of a named set. */
export function cellSet(farm: Farm, name: string): Cell[] {
  const set = farm.cellSets.get(name);
  if (set === undefined) throw new ConfigurationError(unknownName("cell set", name, farm.cellSets.keys()));
  return expand(farm, set);
}

/**
 * A cell-id glob as a RegExp: `*` matches within one part (not across `/` or `@`), `**` matches
 * anything, `?` one character. `tiny-llama/*` alone matches nothing: a glob names all four parts.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/@]*";
    else if (c === "?") re += "[^/@]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** A literal part of a glob that names no model/recipe/... is a typo: say so, with the known names. */
function checkLiteralParts(farm: Farm, glob: string): void {
  const [model, recipe, backend, rest, ...extra] = glob.split("/");
  if (rest === undefined || extra.length > 0) return;
  const [device, toolchain] = rest.split("@");
  const parts: [string, string | undefined, Map<string, unknown>][] = [
    ["model", model, farm.models],
    ["recipe", recipe, farm.recipes],
    ["backend", backend, farm.backends],
    ["device", device, farm.devices],
    ["toolchain", toolchain, farm.toolchains],
  ];
  for (const [kind, part, known] of parts) {
    if (part !== undefined && !/[*?]/.test(part) && !known.has(part)) {
      throw new ConfigurationError(`--cells ${glob}: ${unknownName(kind, part, known.keys())}`);
    }
  }
}

/**
 * The cells to run: the `default` set when `globs` is undefined, else every cell whose id matches
 * one of the comma-separated globs. Selecting nothing is an error (a typo, most likely).
 */
export function selectCells(farm: Farm, globs: string | undefined): Cell[] {
  if (globs === undefined) return cellSet(farm, "default");
  const patterns = globs
    .split(",")
    .map((g) => g.trim())
    .filter((g) => g !== "");
  for (const g of patterns) checkLiteralParts(farm, g);
  const regexps = patterns.map(globToRegExp);
  const cells = allCells(farm).filter((c) => regexps.some((re) => re.test(c.id)));
  if (cells.length === 0) {
    throw new ConfigurationError(
      `--cells ${globs} selects no cell; ids look like ${allCells(farm)[0]?.id ?? "model/recipe/backend/device@toolchain"}`,
    );
  }
  return cells;
}
