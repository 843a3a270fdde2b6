/**
 * The shape of `matrix/farm.yml` (`pte-farm/farm@1`), written once with the validator combinators:
 * `loadFarm` validates with it, and `matrix/farm.schema.json` (for editors) is generated from it by
 * `node scripts/gen-farm-schema.ts`. Objects are closed: an unknown key is a typo and is reported
 * with its position. Only `params` (recipes) and `options` (backends) are open, because they are
 * handed to the Python stages verbatim.
 *
 * What this file cannot say (references between sections, impossible cells) is checked in load.ts.
 */
import {
  arr,
  bool,
  type Check,
  closed,
  documented,
  type Infer,
  literal,
  nonEmptyStr,
  nullable,
  num,
  optional,
  record,
  refine,
  tagged,
  toJsonSchema,
  unknownValue,
  ValidationError,
  withJsonSchema,
} from "../actions/src/core/validate.ts";

export const FARM_SCHEMA_ID = "pte-farm/farm@1";

/** How a device job executes a `.pte`: ExecuTorch's Python runtime, the `llama_main` binary, or a Corstone FVP. */
export const DRIVERS = ["python-runtime", "llama-main", "fvp"] as const;
export type Driver = (typeof DRIVERS)[number];
/** Device CPU architectures. Cortex-M cores only appear behind an FVP. */
export const ARCHS = ["x86_64", "arm64", "cortex-m55", "cortex-m85"] as const;
export type Arch = (typeof ARCHS)[number];
/** Where build jobs run: the toolchain's wheels exist for Linux on these two. */
export const BUILD_ARCHS = ["x86_64", "arm64"] as const;
export type BuildArch = (typeof BUILD_ARCHS)[number];
export const MODEL_KINDS = ["decoder-lm", "cnn"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];
export const EVENTS = ["pull_request", "push", "schedule", "release"] as const;
export type FarmEvent = (typeof EVENTS)[number];
/** The five parts of a cell, in cell-id order; also the keys of a cell set. */
export const DIMENSIONS = ["models", "recipes", "backends", "devices", "toolchains"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A map keyed by names usable inside a cell id: no `/`, `@` or glob characters. */
function names<T>(value: Check<T>): Check<Record<string, T>> {
  const check = refine(record(value), (r) => {
    const bad = Object.keys(r).find((k) => !NAME.test(k));
    return bad === undefined
      ? null
      : {
          path: [bad],
          message: "names may use letters, digits, '.', '_' and '-' (they become part of cell ids)",
        };
  });
  return withJsonSchema(check, () => ({
    type: "object",
    propertyNames: { pattern: NAME.source },
    additionalProperties: toJsonSchema(value),
  }));
}

const positiveInt: Check<number> = withJsonSchema(
  (v, p) => {
    if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
    throw new ValidationError("", p, `expected a positive integer, got ${JSON.stringify(v) ?? "nothing"}`);
  },
  { type: "integer", minimum: 1 },
);

const positiveNum: Check<number> = refine(num, (n) => (n > 0 ? null : { path: [], message: "must be > 0" }), {
  exclusiveMinimum: 0,
});

function nonEmpty<T>(list: Check<T[]>, what: string): Check<T[]> {
  return refine(list, (l) => (l.length === 0 ? { path: [], message: `needs at least one ${what}` } : null), {
    minItems: 1,
  });
}

/** A list of names defined elsewhere in the file; load.ts checks each one exists. */
const nameList = arr(nonEmptyStr);

const gatePolicy = documented(
  closed({ fp32: literal("gate", "report") }),
  "fp32: gate = tokens must also equal the FP32 reference bit for bit; report = agreement is reported only",
);
const modelGate = closed({
  default: optional(documented(gatePolicy, "policy for every quantized recipe of this model")),
  recipes: optional(documented(record(gatePolicy), "per-recipe overrides, by recipe name")),
});
const hub = closed({
  id: documented(nonEmptyStr, "Hugging Face hub id, e.g. facebook/opt-125m"),
  revision: documented(nonEmptyStr, "the pinned commit of the hub repository"),
});
const oneSource = (m: { path?: string; hub?: unknown }) =>
  (m.path === undefined) === (m.hub === undefined)
    ? { path: [], message: "a model has exactly one of `path` (a local folder) or `hub` ({id, revision})" }
    : null;

const decoderLm = refine(
  closed({
    kind: literal("decoder-lm"),
    path: optional(documented(nonEmptyStr, "Hugging Face model folder, relative to the repository root")),
    hub: optional(hub),
    prompts: nonEmpty(arr(nonEmptyStr), "prompt"),
    max_new_tokens: positiveInt,
    max_seq_len: positiveInt,
    gate: optional(modelGate),
    twin_of: optional(
      documented(
        nonEmptyStr,
        "the hub model this shipped model is a same-architecture twin of (sizes reduced): a report for the hub model's cell that could not run points here",
      ),
    ),
  }),
  oneSource,
);
const cnn = refine(
  closed({
    kind: literal("cnn"),
    path: optional(nonEmptyStr),
    hub: optional(hub),
    input_shape: documented(nonEmpty(arr(positiveInt), "dimension"), "e.g. [1, 3, 32, 32]"),
    gate: optional(modelGate),
  }),
  (m) => (m.path !== undefined && m.hub !== undefined ? oneSource(m) : null),
);
const model = tagged("kind", { "decoder-lm": decoderLm, cnn });

const recipe = closed({
  scheme: documented(nonEmptyStr, "the stages' recipe registry key (stages/pte_stages/recipes.py)"),
  params: optional(documented(record(unknownValue), "handed to the stages as spec.recipe, verbatim")),
  backends: optional(documented(nameList, "the backends this recipe suits (default: all)")),
  canary: optional(
    documented(
      bool,
      "for canaries only: a cell set that omits this dimension leaves it out (name it to include it)",
    ),
  ),
  gate: optional(gatePolicy),
  numerics: optional(
    documented(
      closed({
        max_abs_dlogit: documented(
          positiveNum,
          "the largest |.pte − eager| logit allowed at any generated step, over eager's top-k logits",
        ),
        why: documented(nonEmptyStr, "why this size: what the recipe's own error is, measured where"),
      }),
      "the numerics gate beside the token gate (issue 17): drift that has not flipped a token yet",
    ),
  ),
});

const backend = closed({
  kind: documented(nonEmptyStr, "the stages' backend registry key (stages/pte_stages/backends.py)"),
  options: optional(documented(record(unknownValue), "handed to the stages as spec.backend, verbatim")),
  canary: optional(
    documented(
      bool,
      "for canaries only: a cell set that omits this dimension leaves it out (name it to include it)",
    ),
  ),
  targets: documented(
    closed({
      drivers: optional(arr(literal(...DRIVERS))),
      arch: optional(arr(literal(...ARCHS))),
      devices: optional(nameList),
    }),
    "which devices a .pte of this backend can run on; every listed constraint must hold",
  ),
});

/** A pull request's interleaved session budget on a device without `session_minutes`. */
export const SESSION_MINUTES_DEFAULT = 20;

const device = closed({
  runs_on: documented(nonEmpty(arr(nonEmptyStr), "label"), "GitHub Actions runs-on labels of the device job"),
  os: literal("linux", "macos", "bare-metal"),
  arch: literal(...ARCHS),
  board: nonEmptyStr,
  driver: literal(...DRIVERS),
  build_arch: optional(
    documented(
      literal(...BUILD_ARCHS),
      "where its builds run (default: arm64 for arm64 devices, else x86_64)",
    ),
  ),
  memory_bandwidth_gbs: documented(
    nullable(positiveNum),
    "peak DRAM bandwidth for roofline figures; null: unknown",
  ),
  thermal: documented(
    nullable(closed({ cooldown_below_c: positiveNum, max_wait_s: positiveInt })),
    "wait before each measured session until the SoC is below cooldown_below_c; null: no policy",
  ),
  fork_prs: documented(bool, "whether jobs for pull requests from forks may run on it"),
  max_queue_minutes: optional(
    documented(
      positiveNum,
      "how long its device jobs may wait in GitHub's queue for a runner before the watchdog records them as `infra-error: no runner online` (default: health.max_queue_minutes)",
    ),
  ),
  session_minutes: optional(
    documented(
      positiveNum,
      `the time budget of a pull request's interleaved base/head session on it: the device job stops adding reps when the next block would not fit (default ${SESSION_MINUTES_DEFAULT})`,
    ),
  ),
  local: optional(
    documented(bool, "a plain host CPU: any machine of this os/arch may stand in for it in `pte-farm run`"),
  ),
  emulation: optional(
    documented(
      closed({
        qemu_cpu: documented(nonEmptyStr, "the QEMU CPU model (`qemu-aarch64-static -cpu help` lists them)"),
      }),
      "an instruction set under QEMU user mode on a Linux x86_64 host: correctness counts, timings never do",
    ),
  ),
});

const kindCaps = closed({ recipes: optional(nameList), backends: optional(nameList) });

const channel = closed({
  track: documented(
    nonEmpty(nameList, "package"),
    "packages resolved to the package index's newest releases that go together, each time a plan is made",
  ),
  hold: documented(nameList, "packages kept at the pins file's version (torch: the farm's CPU build)"),
});

const toolchain = closed({
  requirements: documented(
    nonEmptyStr,
    "the pins file, relative to the repository root; for a channel, the pins it starts from",
  ),
  channel: optional(
    documented(
      channel,
      "a channel: resolved from the package index into a lock when a plan is made; every pin of the file is named in track or hold",
    ),
  ),
});

const cellSet = closed({
  models: optional(nameList),
  recipes: optional(nameList),
  backends: optional(nameList),
  devices: optional(nameList),
  toolchains: optional(nameList),
});

const include = closed({
  cell: documented(nonEmptyStr, "an exact cell id, model/recipe/backend/device@toolchain"),
  sets: nonEmpty(nameList, "cell set"),
  reason: nonEmptyStr,
});

const exclude = closed({
  cells: documented(nonEmptyStr, "a cell-id glob (* within one part, ** across parts)"),
  reason: nonEmptyStr,
  known_issue: optional(documented(nonEmptyStr, "an id from matrix/known-issues.yml")),
});

const canary = closed({
  known_issue: documented(nonEmptyStr, "the id in matrix/known-issues.yml whose failure the canary expects"),
  cell: documented(
    nonEmptyStr,
    "model/recipe/backend/device (no toolchain: a canary runs on every toolchain)",
  ),
  stage: documented(nonEmptyStr, "the stage expected to fail, with one of the known issue's signatures"),
});

const event = closed({
  cells: documented(nonEmptyStr, "the cell set this event runs"),
  only_affected: optional(documented(bool, "keep only the cells the changed paths touch (pull requests)")),
});

const touchesSome = closed({
  models: optional(nameList),
  recipes: optional(nameList),
  backends: optional(nameList),
  devices: optional(nameList),
  toolchains: optional(nameList),
});
const touchesWord = literal("all", "nothing");
const touches: Check<"all" | "nothing" | Infer<typeof touchesSome>> = withJsonSchema(
  (v, p) => (typeof v === "string" ? touchesWord(v, p) : touchesSome(v, p)),
  () => ({ oneOf: [toJsonSchema(touchesWord), toJsonSchema(touchesSome)] }),
);
const pathRule = closed({
  match: documented(nonEmpty(arr(nonEmptyStr), "glob"), "repository paths (* within a folder, ** across)"),
  touches,
  why: nonEmptyStr,
});

/** Defaults of the `health` section (matrix/load.ts fills them in). */
export const HEALTH_DEFAULTS = {
  quarantine_after_infra_errors: 3,
  max_temp_c: 80,
  max_queue_minutes: 30,
} as const;

const health = closed({
  quarantine_after_infra_errors: optional(
    documented(
      positiveInt,
      `a device with this many infrastructure errors (infra-error or timeout) in a row is quarantined (default ${HEALTH_DEFAULTS.quarantine_after_infra_errors})`,
    ),
  ),
  max_temp_c: optional(
    documented(
      positiveNum,
      `the health check fails a device whose hottest thermal zone is at or above this, in °C (default ${HEALTH_DEFAULTS.max_temp_c})`,
    ),
  ),
  max_queue_minutes: optional(
    documented(
      positiveNum,
      `how long a device job may wait in GitHub's queue (timeout-minutes does not count it) before the workflow's watchdog records its cell as \`infra-error: no runner online\` and cancels the run's wait (default ${HEALTH_DEFAULTS.max_queue_minutes}); a device may set its own`,
    ),
  ),
});

export const farmSchema = closed({
  schema: literal(FARM_SCHEMA_ID),
  devices: names(device),
  models: names(model),
  model_kinds: documented(
    closed({ "decoder-lm": optional(kindCaps), cnn: optional(kindCaps) }),
    "which recipes and backends each kind of model can use in this farm (default: all)",
  ),
  recipes: names(recipe),
  backends: names(backend),
  toolchains: names(toolchain),
  build_runners: documented(
    closed({ x86_64: nonEmpty(arr(nonEmptyStr), "label"), arm64: nonEmpty(arr(nonEmptyStr), "label") }),
    "runs-on labels of build jobs, by build architecture",
  ),
  cell_sets: documented(
    names(cellSet),
    "named cross products; an omitted dimension means every name; impossible combinations are dropped",
  ),
  include: optional(arr(include)),
  exclude: optional(arr(exclude)),
  canaries: optional(
    documented(
      arr(canary),
      "a cell per known issue, expected to fail with it: `pte-farm canaries` runs them on every toolchain",
    ),
  ),
  events: closed({ pull_request: event, push: event, schedule: event, release: event }),
  run: closed({ cells: documented(nonEmptyStr, "the cell set `pte-farm run` runs by default") }),
  paths: documented(
    arr(pathRule),
    "what a changed path touches, for pull requests; the first matching rule wins",
  ),
  health: optional(
    documented(health, "runner health checks and quarantine (pte-farm health); omitted: the defaults"),
  ),
});

export type FarmFile = Infer<typeof farmSchema>;
export type ModelEntry = FarmFile["models"][string];
export type DeviceEntry = FarmFile["devices"][string];
export type PathRule = FarmFile["paths"][number];
export type Touches = PathRule["touches"];

/**
 * The published JSON Schema (matrix/farm.schema.json), generated from {@link farmSchema} so the
 * editor's idea of the file and the validator's cannot drift; a test fails when the file is stale.
 */
export function farmJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $comment:
      "GENERATED from matrix/schema.ts by `node scripts/gen-farm-schema.ts`; do not edit. " +
      "References between sections and impossible cells are checked by `pte-farm validate`, not here.",
    title: "pte-farm farm matrix (pte-farm/farm@1)",
    ...toJsonSchema(farmSchema),
  };
}
