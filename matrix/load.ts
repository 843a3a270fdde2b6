/**
 * Loads and validates the farm definition (`matrix/farm.yml`, `pte-farm/farm@1`): models, recipes,
 * backends, devices, toolchains and named cell sets. Every name a cell set uses must be defined;
 * every model folder must exist. Errors are ConfigurationErrors that say what to fix.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../actions/src/errors.ts";
import { REPO_ROOT } from "../actions/src/paths.ts";
import {
  arr,
  bool,
  type Check,
  type Infer,
  literal,
  nonEmptyStr,
  obj,
  open,
  optional,
  type PathSegment,
  record,
  refine,
  ValidationError,
} from "../actions/src/validate.ts";
import { readYamlFile } from "./yaml-file.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A name usable inside a cell id: no `/`, `@` or glob characters. */
function names<T>(value: Check<T>): Check<Record<string, T>> {
  return refine(record(value), (r) => {
    const bad = Object.keys(r).find((k) => !NAME.test(k));
    return bad === undefined
      ? null
      : {
          path: [bad],
          message: "names may use letters, digits, '.', '_' and '-' (they become part of cell ids)",
        };
  });
}

const positiveInt: Check<number> = (v, p) => {
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  throw new ValidationError("", p, `expected a positive integer, got ${JSON.stringify(v) ?? "nothing"}`);
};

const prompts = refine(arr(nonEmptyStr), (list) =>
  list.length === 0 ? { path: [], message: "a model needs at least one prompt" } : null,
);

const farmSchema = obj({
  schema: literal("pte-farm/farm@1"),
  models: names(obj({ path: nonEmptyStr, prompts, max_new_tokens: positiveInt, max_seq_len: positiveInt })),
  recipes: names(
    open({
      scheme: nonEmptyStr,
      group_size: optional(positiveInt),
      /** Overrides the gate policy; `fp32: gate` makes a quantized recipe also match FP32 bit for bit. */
      gate: optional(obj({ fp32: literal("gate", "report") })),
    }),
  ),
  backends: names(open({ kind: nonEmptyStr, per_op_mode: optional(bool) })),
  devices: names(obj({ runner: nonEmptyStr, board: nonEmptyStr })),
  toolchains: names(obj({ requirements: nonEmptyStr })),
  cell_sets: names(
    obj({
      models: arr(nonEmptyStr),
      recipes: arr(nonEmptyStr),
      backends: arr(nonEmptyStr),
      devices: arr(nonEmptyStr),
      toolchains: arr(nonEmptyStr),
    }),
  ),
});
type FarmFile = Infer<typeof farmSchema>;

export interface ModelDef {
  name: string;
  /** Absolute path of the Hugging Face model folder. */
  path: string;
  prompts: string[];
  max_new_tokens: number;
  max_seq_len: number;
}
export interface RecipeDef {
  name: string;
  scheme: string;
  /** True for every scheme but fp32: the reference then also holds the eager quantized tokens. */
  quantized: boolean;
  fp32Gate: "gate" | "report";
  /** What the stages receive as `spec.recipe` (the YAML block minus `gate`, plus `name`). */
  spec: Record<string, unknown> & { name: string; scheme: string };
}
export interface BackendDef {
  name: string;
  kind: string;
  spec: Record<string, unknown> & { name: string; kind: string };
}
export interface DeviceDef {
  name: string;
  runner: string;
  board: string;
}
export interface ToolchainDef {
  name: string;
  /** Absolute path of the pins file; its contents are part of every cache key. */
  requirements: string;
}
export interface CellSet {
  models: string[];
  recipes: string[];
  backends: string[];
  devices: string[];
  toolchains: string[];
}

/** The validated farm, with names resolved and paths absolute. */
export interface Farm {
  file: string;
  models: Map<string, ModelDef>;
  recipes: Map<string, RecipeDef>;
  backends: Map<string, BackendDef>;
  devices: Map<string, DeviceDef>;
  toolchains: Map<string, ToolchainDef>;
  cellSets: Map<string, CellSet>;
}

/** "unknown recipe "x"; known recipes: a, b" — the message every bad name gets. */
export function unknownName(kind: string, name: string, known: Iterable<string>): string {
  return `unknown ${kind} ${JSON.stringify(name)}; known ${kind}s: ${[...known].join(", ") || "(none)"}`;
}

/** Loads `file` (default matrix/farm.yml) and checks it; relative paths resolve against the repo root. */
export async function loadFarm(file: string): Promise<Farm> {
  const yaml = await readYamlFile(file, farmSchema, "matrix file");
  const data: FarmFile = yaml.data;
  const abs = (p: string) => path.resolve(REPO_ROOT, p);

  const farm: Farm = {
    file,
    models: new Map(
      Object.entries(data.models).map(([name, m]) => [name, { name, ...m, path: abs(m.path) }]),
    ),
    recipes: new Map(
      Object.entries(data.recipes).map(([name, r]) => {
        const { gate, ...rest } = r;
        const quantized = r.scheme !== "fp32";
        const fp32Gate = gate?.fp32 ?? (quantized ? "report" : "gate");
        return [
          name,
          { name, scheme: r.scheme, quantized, fp32Gate, spec: { ...rest, name, scheme: r.scheme } },
        ];
      }),
    ),
    backends: new Map(
      Object.entries(data.backends).map(([name, b]) => [
        name,
        { name, kind: b.kind, spec: { ...b, name, kind: b.kind } },
      ]),
    ),
    devices: new Map(Object.entries(data.devices).map(([name, d]) => [name, { name, ...d }])),
    toolchains: new Map(
      Object.entries(data.toolchains).map(([name, t]) => [name, { name, requirements: abs(t.requirements) }]),
    ),
    cellSets: new Map(Object.entries(data.cell_sets)),
  };

  const dims = [
    ["models", "model", farm.models],
    ["recipes", "recipe", farm.recipes],
    ["backends", "backend", farm.backends],
    ["devices", "device", farm.devices],
    ["toolchains", "toolchain", farm.toolchains],
  ] as const;
  for (const [setName, set] of farm.cellSets) {
    for (const [key, kind, defined] of dims) {
      set[key].forEach((name, i) => {
        if (!defined.has(name)) {
          const at: PathSegment[] = ["cell_sets", setName, key, i];
          throw new ConfigurationError(`${yaml.where(at)}: ${unknownName(kind, name, defined.keys())}`);
        }
      });
    }
  }

  for (const model of farm.models.values()) {
    const ok = await stat(model.path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!ok) {
      throw new ConfigurationError(
        `${yaml.where(["models", model.name, "path"])}: model ${JSON.stringify(model.name)}: folder ${model.path} does not exist. ` +
          `Point models.${model.name}.path at a Hugging Face model folder (config.json, tokenizer, weights)` +
          (model.name === "tiny-llama"
            ? ", or train the shipped model: python -m pte_stages.train_tiny --out stages/models/tiny-llama"
            : ""),
      );
    }
  }
  for (const tc of farm.toolchains.values()) {
    const ok = await stat(tc.requirements).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!ok) {
      throw new ConfigurationError(
        `${yaml.where(["toolchains", tc.name, "requirements"])}: toolchain ${JSON.stringify(tc.name)}: pins file ${tc.requirements} does not exist`,
      );
    }
  }
  return farm;
}
