/**
 * Cells: one model × recipe × backend × device × toolchain. This is the one expansion `plan` (CI)
 * and `run` (a laptop) share, so a cell id from a CI log reproduces locally as the same cell:
 * cell sets are cross products minus impossible combinations, plus their `include` cells; `exclude`
 * rules turn cells into visible "skipped: reason" entries, never into silence.
 */
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { cellId, parseCellId } from "../actions/src/schemas/cell-id.ts";
import type { CellRef } from "../actions/src/schemas/stage.ts";
import { whyImpossible } from "./capabilities.ts";
import { globParts, globToRegExp, unknownName } from "./ids.ts";
import type { BackendDef, CellSet, DeviceDef, Farm, ModelDef, RecipeDef, ToolchainDef } from "./types.ts";

export { cellId } from "../actions/src/schemas/cell-id.ts";
export { globToRegExp } from "./ids.ts";

export interface Cell {
  id: string;
  ref: CellRef;
  model: ModelDef;
  recipe: RecipeDef;
  backend: BackendDef;
  device: DeviceDef;
  toolchain: ToolchainDef;
  /** Whether tokens must also equal the FP32 reference (model per-recipe > model default > recipe > built-in). */
  fp32Gate: "gate" | "report";
}

/** A cell an `exclude` rule keeps out, shown in every report. */
export interface Skipped {
  cell: string;
  reason: string;
  known_issue: string | null;
}

/** The cells a selection runs, and the ones it shows as skipped. */
export interface Selected {
  cells: Cell[];
  skipped: Skipped[];
}

function get<T>(map: Map<string, T>, name: string): T {
  const v = map.get(name);
  if (v === undefined) throw new Error(`bug: ${name} was validated but is not defined`);
  return v;
}

export function makeCell(farm: Farm, ref: CellRef): Cell {
  const model = get(farm.models, ref.model);
  const recipe = get(farm.recipes, ref.recipe);
  const policy =
    model.gate.recipes?.[ref.recipe] ?? (recipe.quantized ? model.gate.default : undefined) ?? recipe.gate;
  return {
    id: cellId(ref),
    ref,
    model,
    recipe,
    backend: get(farm.backends, ref.backend),
    device: get(farm.devices, ref.device),
    toolchain: get(farm.toolchains, ref.toolchain),
    fp32Gate: policy?.fp32 ?? (recipe.quantized ? "report" : "gate"),
  };
}

/** The possible cells of a cross product, in YAML order; impossible combinations are dropped. */
function crossProduct(farm: Farm, set: CellSet): Cell[] {
  const cells: Cell[] = [];
  for (const model of set.models)
    for (const recipe of set.recipes)
      for (const backend of set.backends)
        for (const device of set.devices) {
          const ref = { model, recipe, backend, device, toolchain: "" };
          if (whyImpossible(farm, ref) !== null) continue;
          for (const toolchain of set.toolchains) cells.push(makeCell(farm, { ...ref, toolchain }));
        }
  return cells;
}

/** Every possible cell of the farm: the universe `--cells` globs select from. */
export function allCells(farm: Farm): Cell[] {
  return crossProduct(farm, {
    models: [...farm.models.keys()],
    recipes: [...farm.recipes.keys()],
    backends: [...farm.backends.keys()],
    devices: [...farm.devices.keys()],
    toolchains: [...farm.toolchains.keys()],
  });
}

/** Splits cells into those that run and those an `exclude` rule skips (first matching rule). */
export function applyExcludes(farm: Farm, cells: readonly Cell[]): Selected {
  const out: Selected = { cells: [], skipped: [] };
  for (const cell of cells) {
    const rule = farm.exclude.find((r) => r.regexp.test(cell.id));
    if (rule === undefined) out.cells.push(cell);
    else out.skipped.push({ cell: cell.id, reason: rule.reason, known_issue: rule.knownIssue });
  }
  return out;
}

/** The cells of a named set: its cross product plus the `include` cells naming it, minus excludes. */
export function cellSet(farm: Farm, name: string): Selected {
  const set = farm.cellSets.get(name);
  if (set === undefined) throw new ConfigurationError(unknownName("cell set", name, farm.cellSets.keys()));
  const cells = crossProduct(farm, set);
  const seen = new Set(cells.map((c) => c.id));
  for (const inc of farm.include) {
    const ref = parseCellId(inc.cell);
    if (ref === null || !inc.sets.includes(name) || seen.has(inc.cell)) continue;
    seen.add(inc.cell);
    cells.push(makeCell(farm, ref));
  }
  return applyExcludes(farm, cells);
}

/** This machine as farm devices spell it: `linux`/`macos` and `x86_64`/`arm64`. */
export function thisMachine(platform: string = process.platform, arch: string = process.arch) {
  return {
    os: platform === "darwin" ? "macos" : platform,
    arch: arch === "x64" ? "x86_64" : arch,
  };
}

/** A literal part of a glob that names no model/recipe/... is a typo: say so, with the known names. */
function checkLiteralParts(farm: Farm, glob: string): void {
  const parts = globParts(glob);
  const known: [keyof CellRef, Map<string, unknown>][] = [
    ["model", farm.models],
    ["recipe", farm.recipes],
    ["backend", farm.backends],
    ["device", farm.devices],
    ["toolchain", farm.toolchains],
  ];
  for (const [kind, names] of known) {
    const part = parts[kind];
    if (part !== undefined && !names.has(part)) {
      throw new ConfigurationError(`--cells ${glob}: ${unknownName(kind, part, names.keys())}`);
    }
  }
}

/**
 * The cells `pte-farm run` runs. With no globs: the `run.cells` set, on the local devices that
 * match this machine (host-x86_64 on x86_64 Linux, host-arm64 on arm64). With globs: every
 * possible cell whose id matches one of them. Either way excluded cells come back as skipped, and
 * selecting nothing at all is an error (a typo, most likely).
 */
export function selectCells(
  farm: Farm,
  globs: string | undefined,
  machine: { os: string; arch: string } = thisMachine(),
): Selected {
  if (globs === undefined) {
    const { cells, skipped } = cellSet(farm, farm.runSet);
    // An emulated device runs on any Linux x86_64 machine (QEMU user mode); the others on their own os/arch.
    const here = (c: Cell) =>
      c.device.local &&
      (c.device.emulation !== null
        ? machine.os === "linux" && machine.arch === "x86_64"
        : c.device.os === machine.os && c.device.arch === machine.arch);
    const local = cells.filter(here);
    if (local.length === 0) {
      throw new ConfigurationError(
        `cell set ${farm.runSet} (run.cells in ${farm.file}) has no cell on a local device for this machine ` +
          `(${machine.os} ${machine.arch}); pass --cells, e.g. --cells '${cells[0]?.id ?? "model/recipe/backend/device@toolchain"}'`,
      );
    }
    const names = new Set(local.map((c) => c.device.name));
    return { cells: local, skipped: skipped.filter((s) => names.has(parseCellId(s.cell)?.device ?? "")) };
  }
  const patterns = globs
    .split(",")
    .map((g) => g.trim())
    .filter((g) => g !== "");
  for (const g of patterns) checkLiteralParts(farm, g);
  const regexps = patterns.map(globToRegExp);
  const universe = allCells(farm);
  const selected = applyExcludes(
    farm,
    universe.filter((c) => regexps.some((re) => re.test(c.id))),
  );
  if (selected.cells.length === 0 && selected.skipped.length === 0) {
    throw new ConfigurationError(
      `--cells ${globs} selects no cell; ids look like ${universe[0]?.id ?? "model/recipe/backend/device@toolchain"}`,
    );
  }
  return selected;
}
