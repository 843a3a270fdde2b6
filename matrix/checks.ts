/**
 * What the file's shape cannot say: every name one section uses is defined in another, and nothing
 * names an impossible cell explicitly. Pure (the farm and a position lookup in, an error out), so it
 * is as fast as the plan benchmark needs and testable without files.
 */
import { ConfigurationError } from "../actions/src/core/errors.ts";
import type { PathSegment } from "../actions/src/core/validate.ts";
import { parseCellId } from "../actions/src/schemas/cell-id.ts";
import { type CellRef, STAGES } from "../actions/src/schemas/stage.ts";
import { whyImpossible } from "./capabilities.ts";
import { allCells } from "./cells.ts";
import { globParts, unknownName } from "./ids.ts";
import { DIMENSIONS, type Dimension } from "./schema.ts";
import type { Farm } from "./types.ts";

type Where = (at: readonly PathSegment[], onKey?: boolean) => string;

const SINGULAR: Record<Dimension, keyof CellRef> = {
  models: "model",
  recipes: "recipe",
  backends: "backend",
  devices: "device",
  toolchains: "toolchain",
};

/** Throws a ConfigurationError at the first problem, naming file:line:col and the allowed values. */
export function checkFarm(farm: Farm, where: Where, knownIssues: Set<string> | null): void {
  const known: Record<Dimension, Map<string, unknown>> = {
    models: farm.models,
    recipes: farm.recipes,
    backends: farm.backends,
    devices: farm.devices,
    toolchains: farm.toolchains,
  };
  const names = (dim: Dimension, list: readonly string[] | undefined, at: PathSegment[]) => {
    list?.forEach((name, i) => {
      if (!known[dim].has(name)) {
        throw new ConfigurationError(
          `${where([...at, i])}: ${unknownName(SINGULAR[dim], name, known[dim].keys())}`,
        );
      }
    });
  };
  const setName = (name: string, at: PathSegment[]) => {
    if (!farm.cellSets.has(name)) {
      throw new ConfigurationError(`${where(at)}: ${unknownName("cell set", name, farm.cellSets.keys())}`);
    }
  };
  const { data } = farm;

  for (const [name, r] of Object.entries(data.recipes))
    names("backends", r.backends, ["recipes", name, "backends"]);
  for (const [name, b] of Object.entries(data.backends)) {
    names("devices", b.targets.devices, ["backends", name, "targets", "devices"]);
  }
  for (const [kind, caps] of Object.entries(data.model_kinds)) {
    names("recipes", caps?.recipes, ["model_kinds", kind, "recipes"]);
    names("backends", caps?.backends, ["model_kinds", kind, "backends"]);
  }
  const twinned = new Map<string, string>();
  for (const [name, m] of Object.entries(data.models)) {
    const twin = "twin_of" in m ? m.twin_of : undefined;
    if (twin !== undefined) {
      const other = twinned.get(twin);
      if (other !== undefined)
        throw new ConfigurationError(
          `${where(["models", name, "twin_of"])}: ${JSON.stringify(twin)} already has a twin, ${JSON.stringify(other)}: a report points a cell that could not run at one twin; remove one twin_of`,
        );
      twinned.set(twin, name);
      const of = farm.models.get(twin);
      if (of === undefined || twin === name)
        throw new ConfigurationError(
          `${where(["models", name, "twin_of"])}: ${unknownName(
            "model",
            twin,
            [...farm.models.keys()].filter((n) => n !== name),
          )}`,
        );
      if (of.kind !== m.kind)
        throw new ConfigurationError(
          `${where(["models", name, "twin_of"])}: model ${JSON.stringify(name)} is a ${m.kind}, its twin_of ${JSON.stringify(twin)} a ${of.kind}: a twin has the same architecture`,
        );
    }
    for (const recipe of Object.keys(m.gate?.recipes ?? {})) {
      if (!farm.recipes.has(recipe)) {
        throw new ConfigurationError(
          `${where(["models", name, "gate", "recipes", recipe], true)}: ${unknownName("recipe", recipe, farm.recipes.keys())}`,
        );
      }
    }
  }
  for (const [set, s] of Object.entries(data.cell_sets)) {
    for (const dim of DIMENSIONS) names(dim, s[dim], ["cell_sets", set, dim]);
    checkSetIsPossible(farm, set, where);
  }
  farm.include.forEach((inc, i) => {
    const ref = parseCellId(inc.cell);
    if (ref === null) {
      throw new ConfigurationError(
        `${where(["include", i, "cell"])}: ${JSON.stringify(inc.cell)} is not a cell id; ids look like model/recipe/backend/device@toolchain`,
      );
    }
    for (const dim of DIMENSIONS) {
      const name = ref[SINGULAR[dim]];
      if (!known[dim].has(name)) {
        throw new ConfigurationError(
          `${where(["include", i, "cell"])}: ${unknownName(SINGULAR[dim], name, known[dim].keys())}`,
        );
      }
    }
    const why = whyImpossible(farm, ref);
    if (why !== null)
      throw new ConfigurationError(`${where(["include", i, "cell"])}: impossible cell ${inc.cell}: ${why}`);
    for (const [j, s] of inc.sets.entries()) setName(s, ["include", i, "sets", j]);
  });
  let ids: string[] | undefined;
  farm.exclude.forEach((ex, i) => {
    const parts = globParts(ex.glob);
    for (const dim of DIMENSIONS) {
      const name = parts[SINGULAR[dim]];
      if (name !== undefined && !known[dim].has(name)) {
        throw new ConfigurationError(
          `${where(["exclude", i, "cells"])}: ${unknownName(SINGULAR[dim], name, known[dim].keys())}`,
        );
      }
    }
    ids ??= allCells(farm).map((c) => c.id);
    if (!ids.some((id) => ex.regexp.test(id))) {
      throw new ConfigurationError(
        `${where(["exclude", i, "cells"])}: ${JSON.stringify(ex.glob)} matches no possible cell; ids look like ` +
          `${ids[0] ?? "model/recipe/backend/device@toolchain"} (* within a part, ** across parts)`,
      );
    }
    if (ex.knownIssue !== null && knownIssues !== null && !knownIssues.has(ex.knownIssue)) {
      throw new ConfigurationError(
        `${where(["exclude", i, "known_issue"])}: ${unknownName("known issue", ex.knownIssue, knownIssues)} (matrix/known-issues.yml)`,
      );
    }
  });
  farm.canaries.forEach((c, i) => {
    const ref = parseCellId(`${c.cell}@${farm.toolchains.keys().next().value ?? ""}`);
    if (
      ref === null ||
      !farm.models.has(ref.model) ||
      !farm.recipes.has(ref.recipe) ||
      !farm.backends.has(ref.backend) ||
      !farm.devices.has(ref.device)
    ) {
      throw new ConfigurationError(
        `${where(["canaries", i, "cell"])}: ${JSON.stringify(c.cell)} is not model/recipe/backend/device of this matrix`,
      );
    }
    const impossible = whyImpossible(farm, ref);
    if (impossible !== null)
      throw new ConfigurationError(`${where(["canaries", i, "cell"])}: ${c.cell}: ${impossible}`);
    if (knownIssues !== null && !knownIssues.has(c.knownIssue)) {
      throw new ConfigurationError(
        `${where(["canaries", i, "known_issue"])}: ${unknownName("known issue", c.knownIssue, knownIssues)} (matrix/known-issues.yml)`,
      );
    }
    if (!(STAGES as readonly string[]).includes(c.stage)) {
      throw new ConfigurationError(
        `${where(["canaries", i, "stage"])}: ${JSON.stringify(c.stage)}; expected one of ${STAGES.join(", ")}`,
      );
    }
  });
  for (const [event, e] of Object.entries(data.events)) setName(e.cells, ["events", event, "cells"]);
  setName(data.run.cells, ["run", "cells"]);
  data.paths.forEach((rule, i) => {
    if (typeof rule.touches === "string") return;
    for (const dim of DIMENSIONS) names(dim, rule.touches[dim], ["paths", i, "touches", dim]);
  });
}

/**
 * A name a cell set lists explicitly must take part in at least one possible cell of the set: a set
 * of `backends: [ethos-u55-128]` and `devices: [pi5]` asks for something that cannot exist, and is
 * reported at the first such name with the reason. Dropping some combinations of a cross product is
 * normal (that is what capabilities are for) and is not reported.
 */
function checkSetIsPossible(farm: Farm, set: string, where: Where): void {
  const s = farm.cellSets.get(set);
  const listed = farm.data.cell_sets[set];
  if (s === undefined || listed === undefined) return;
  const used = {
    models: new Set<string>(),
    recipes: new Set<string>(),
    backends: new Set<string>(),
    devices: new Set<string>(),
  };
  const firstWhy = new Map<string, string>();
  const toolchain = s.toolchains[0] ?? "";
  for (const model of s.models)
    for (const recipe of s.recipes)
      for (const backend of s.backends)
        for (const device of s.devices) {
          const why = whyImpossible(farm, { model, recipe, backend, device, toolchain });
          const parts = { models: model, recipes: recipe, backends: backend, devices: device };
          for (const [dim, name] of Object.entries(parts) as [keyof typeof used, string][]) {
            if (why === null) used[dim].add(name);
            else {
              // Keep the first reason, unless a later one is about this very name.
              const had = firstWhy.get(`${dim}:${name}`);
              if (had === undefined || (!had.includes(name) && why.includes(name))) {
                firstWhy.set(`${dim}:${name}`, why);
              }
            }
          }
        }
  // When a whole set is impossible every name is unused; blame the most specific part first.
  for (const dim of ["backends", "recipes", "devices", "models"] as const) {
    listed[dim]?.forEach((name, i) => {
      if (used[dim].has(name)) return;
      throw new ConfigurationError(
        `${where(["cell_sets", set, dim, i])}: impossible cells: cell set ${set} lists ${SINGULAR[dim]} ${name}, ` +
          `but no cell of the set can use it: ${firstWhy.get(`${dim}:${name}`) ?? "the set is empty"}`,
      );
    });
  }
}
