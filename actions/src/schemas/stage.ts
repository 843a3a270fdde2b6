/**
 * The TypeScript side of the stage contract (stages/README.md): the spec we write, the
 * `result.json` we read back, and the `data` block of each stage. Keep this file and the README in
 * step; the README is the source of truth.
 */
import {
  arr,
  bool,
  type Check,
  type Infer,
  int,
  literal,
  nonEmptyStr,
  nonNegInt,
  nullable,
  num,
  obj,
  optional,
  record,
  refine,
  str,
  unknownValue,
} from "../core/validate.ts";

/** The five stages, in pipeline order. */
export const STAGES = ["reference", "export", "quantize", "lower", "execute"] as const;
export type StageName = (typeof STAGES)[number];

/** Stages whose outputs are pure functions of their inputs, so a content-addressed cache may reuse them. */
export const CACHEABLE_STAGES: readonly StageName[] = ["reference", "export", "quantize", "lower"];

export interface CellRef {
  model: string;
  recipe: string;
  backend: string;
  device: string;
  toolchain: string;
}

export interface RecipeSpec {
  name: string;
  scheme: string;
  group_size?: number;
  [extra: string]: unknown;
}

export interface BackendSpec {
  name: string;
  kind: string;
  per_op_mode?: boolean;
  [extra: string]: unknown;
}

/** `spec.json` (`pte-farm/stage-spec@1`). Every stage gets every field and ignores what it does not use. */
export interface StageSpec {
  schema: "pte-farm/stage-spec@1";
  stage: StageName;
  cell: CellRef;
  /** `kind` and `input_shape` are OPTIONAL: sent for CNN models only (a decoder LM's spec is unchanged). */
  model: { id: string; path: string; max_seq_len: number; kind?: "cnn"; input_shape?: number[] };
  prompts: string[];
  max_new_tokens: number;
  recipe: RecipeSpec;
  backend: BackendSpec;
  /** Absolute paths of the artefacts this stage consumes, by role (`program`, `pte`, `manifest`). */
  inputs: Record<string, string>;
  execute: {
    warmup: number;
    reps: number;
    prompt_ids: number[][];
    /** OPTIONAL: wait before each rep until the hottest zone is below `below_c` (the device's `thermal`). */
    cooldown?: { below_c: number; max_wait_s: number; poll_s?: number };
    /** OPTIONAL (issue 17): per prompt, the recipe's eager reference tokens and top logits (numerics). */
    reference_logits?: ReferenceLogits[];
  };
  options: Record<string, unknown>;
}

/** One prompt's reference for the numerics: which eager run, its tokens and its top logits per step. */
export interface ReferenceLogits {
  reference: "fp32" | "quantized";
  ids: number[];
  top: { k: number; ids: number[][]; values: number[][] };
}

export const toolchainVersions = record(nullable(str));
export type ToolchainVersions = Infer<typeof toolchainVersions>;

export const artefact = obj({ path: nonEmptyStr, sha256: str, bytes: nonNegInt });
export type Artefact = Infer<typeof artefact>;

export const stageError = obj({
  kind: literal("stage", "config", "infra"),
  type: str,
  message: str,
  package: optional(nullable(str)),
  package_version: optional(nullable(str)),
  hint: optional(nullable(str)),
});
export type StageError = Infer<typeof stageError>;

/** `result.json` (`pte-farm/stage-result@1`); `data` is checked per stage by {@link stageData}. */
export const stageResult = refine(
  obj({
    schema: literal("pte-farm/stage-result@1"),
    stage: literal(...STAGES),
    status: literal("ok", "failed"),
    started_at: str,
    finished_at: str,
    duration_s: num,
    toolchain: toolchainVersions,
    artefacts: record(artefact),
    data: unknownValue,
    error: nullable(stageError),
  }),
  (r) => {
    if (r.status === "ok" && r.error !== null)
      return { path: ["error"], message: 'must be null when status is "ok"' };
    if (r.status === "failed" && r.error === null)
      return { path: ["error"], message: 'must describe the failure when status is "failed"' };
    return null;
  },
);
export type StageResult = Infer<typeof stageResult>;

const ids = arr(int);
/**
 * `output_q` (OPTIONAL, CNN models): the output logits as INT8 codes, in quanta of the output's
 * scale; the gate bounds the difference between the quantized reference's and the `.pte`'s.
 */
const outputQ = optional(arr(int));
/**
 * OPTIONAL (issue 17): eager's top-k logits at each generated step (ids and float32 values), which
 * the execute stage compares the `.pte`'s logits with (stages/pte_stages/numerics.py).
 */
export const logitsTop = obj({ k: nonNegInt, ids: arr(arr(int)), values: arr(arr(num)) });
export type LogitsTop = Infer<typeof logitsTop>;
const tokens = obj({
  ids,
  pieces: arr(str),
  min_margin: num,
  output_q: outputQ,
  logits_top: optional(logitsTop),
});
export type Tokens = Infer<typeof tokens>;

export const referenceData = obj({
  prompts: arr(obj({ prompt: str, prompt_ids: ids, fp32: tokens, quantized: nullable(tokens) })),
});
export type ReferenceData = Infer<typeof referenceData>;

export const programData = obj({
  sha256: str,
  bytes: nonNegInt,
  max_seq_len: int,
  /** null from quantize's fp32 pass-through, which copies the program without loading it. */
  mutable_buffers: nullable(nonNegInt),
  scheme: str,
});

/** The lower stage's fragmentation check against a base manifest (OPTIONAL; see delegation.ts). */
export const fragmentationReport = obj({
  alarm: bool,
  base_subgraphs: nonNegInt,
  head_subgraphs: nonNegInt,
  cpu_ops_added: record(nonNegInt),
  cpu_ops_removed: record(nonNegInt),
  message: str,
});
export type FragmentationReport = Infer<typeof fragmentationReport>;

export const delegation = obj({
  backend: str,
  delegated_subgraphs: nonNegInt,
  delegated_ops: nonNegInt,
  cpu_ops: record(nonNegInt),
  /** OPTIONAL (issue 6): operators inside each delegate, in graph order. */
  subgraph_ops: optional(arr(nonNegInt)),
  /** OPTIONAL (issue 6): set when the lower stage was given `inputs.base_manifest`. */
  fragmentation: optional(fragmentationReport),
});
export type Delegation = Infer<typeof delegation>;

/**
 * `sample_flags` (OPTIONAL, issue 4) runs parallel to `samples`: `[]` for a clean rep, else why the rep
 * is not comparable (`"throttled"`, `"hot"`). A reader must never average a flagged sample in silently.
 */
export const metric = refine(
  obj({
    unit: str,
    better: literal("higher", "lower"),
    samples: arr(num),
    sample_flags: optional(arr(arr(str))),
  }),
  (m) =>
    m.sample_flags !== undefined && m.sample_flags.length !== m.samples.length
      ? {
          path: ["sample_flags"],
          message: `has ${m.sample_flags.length} entries but samples has ${m.samples.length}; they must be parallel`,
        }
      : null,
);
export type Metric = Infer<typeof metric>;

/** One telemetry sample, before or after a measured rep (read by the execute process). */
export const repTelemetry = obj({
  rep: int,
  phase: literal("before", "after"),
  thermal_c: record(num),
  cpu_mhz: record(num),
  cpu_max_mhz: optional(record(num)),
  governor: optional(record(str)),
  /** Decoded `vcgencmd get_throttled` bits or `pmset -g therm` fields, with their `source`; null elsewhere. */
  throttled: nullable(record(unknownValue)),
  cooldown_wait_s: optional(num),
});
export type RepTelemetry = Infer<typeof repTelemetry>;

/** The execute stage's decode timers (stages/pte_stages/llm_runner.py), best first. */
export const TIMERS = ["text-llm-runner", "python-loop"] as const;
export type Timer = (typeof TIMERS)[number];

/** The metrics the run record promises for a decoder LM; execute must report each of them. */
export const REQUIRED_METRICS = [
  "decode_tokens_per_sec",
  "prefill_tokens_per_sec",
  "first_token_ms",
  "model_load_ms",
  "peak_rss_mb",
  "pte_bytes",
] as const;

/** A CNN has no tokens to decode: per-image inference time instead (on the TOSA reference model, host time). */
export const REQUIRED_CNN_METRICS = ["inference_ms", "model_load_ms", "peak_rss_mb", "pte_bytes"] as const;

/**
 * OPTIONAL (issue 6): which execute driver measured, and what it could not. Absent: the Python
 * runtime stage, which measures every metric. A metric a driver cannot measure at all (peak RSS
 * inside a simulator, tokens/s of a CNN) is left out of `metrics` and named in `unavailable` with
 * the reason, never filled with a made-up value; `notes` say how a metric was measured where that
 * differs from the Python runtime's meaning (e.g. llama_main's millisecond timestamps).
 */
export const driverInfo = obj({
  name: nonEmptyStr,
  unavailable: record(str),
  notes: record(str),
  /**
   * OPTIONAL: the outputs were checked on the device itself. `bundled-io`: the bare-metal runner
   * compared them with the reference outputs inside the bundled program and printed
   * `Test_result: PASS` (a CNN has no tokens for the gate to compare).
   */
  output_check: optional(literal("bundled-io")),
  /** OPTIONAL: what the driver parsed that is not a metric (FVP: delegations, PMU event names). */
  details: optional(record(unknownValue)),
});
export type DriverInfo = Infer<typeof driverInfo>;

/** Why an adaptive interleaved session stopped adding reps (pipeline/adaptive-session.ts). */
export const SESSION_STOPS = ["decided", "cap", "budget", "timings-do-not-count"] as const;

/**
 * OPTIONAL (issue 16): an interleaved session measured in blocks, more reps added while the paired
 * comparison was inconclusive (compare/looks.ts). The device job writes it; the Python stage never does.
 */
export const adaptiveSession = obj({
  /** Reps per side of each block, in order. */
  blocks: arr(nonNegInt),
  reps_per_side: nonNegInt,
  /** Wall time of the whole session (every block, warm-ups and loads included). */
  seconds: num,
  /** The device's budget for it (matrix `session_minutes`). */
  budget_s: num,
  stopped: literal(...SESSION_STOPS),
});
export type AdaptiveSession = Infer<typeof adaptiveSession>;

/**
 * One prompt's numerics against the eager reference (stages/pte_stages/numerics.py): the largest
 * |`.pte` − eager| logit over the compared steps (null: a logit was NaN or infinite) and the step,
 * and the `.pte`'s smallest top-1 margin and its step.
 */
export const promptNumerics = obj({
  steps: nonNegInt,
  max_abs_dlogit: nullable(num),
  at_step: nonNegInt,
  min_margin: num,
  min_margin_at: nonNegInt,
});
export type PromptNumerics = Infer<typeof promptNumerics>;
export const executeNumerics = obj({
  /** Which eager reference the logits were compared with (the recipe's: fp32 or quantized). */
  reference: str,
  top_k: nonNegInt,
  prompts: arr(promptNumerics),
});
export type ExecuteNumerics = Infer<typeof executeNumerics>;

const roleShape = {
  prompts: arr(obj({ prompt_ids: ids, ids, pieces: arr(str), output_q: outputQ })),
  /** OPTIONAL (issue 17): set when the spec carried the reference's logits (a decoder LM, Python runtime). */
  numerics: optional(executeNumerics),
  reps: nonNegInt,
  warmup: nonNegInt,
  metrics: record(metric),
  telemetry: optional(arr(repTelemetry)),
  driver: optional(driverInfo),
  /**
   * OPTIONAL (issue 16): what timed decode, prefill and first token in the Python runtime's execute.
   * `text-llm-runner`: ExecuTorch's C++ runner (llama_main's code, via its Python binding), its
   * output checked against the gated ids; `python-loop`: the stage's own per-token Python loop,
   * where the runner cannot run. Absent: an execute from before the choice existed (the loop).
   */
  timer: optional(literal(...TIMERS)),
  /** OPTIONAL: why the Python loop timed instead of the runner. */
  timer_fallback: optional(str),
  /**
   * OPTIONAL, with `timer: "text-llm-runner"`: the runner's own Stats over the measured reps' runs,
   * summed (its clock is whole milliseconds, too coarse for one run): a cross-check of the timer.
   */
  runner_stats: optional(obj({ generated_tokens: nonNegInt, decode_ms: nonNegInt })),
};

export const executeData = refine(
  obj({
    ...roleShape,
    /** OPTIONAL: an interleaved session's base `.pte`, measured alternately with this (head) one. */
    base: optional(obj(roleShape)),
    /** OPTIONAL: the roles of the measured reps in the order they ran (ABBA). */
    order: optional(arr(literal("base", "head"))),
    adaptive: optional(adaptiveSession),
    /** OPTIONAL: "cnn" for a classifier's execute (absent: a decoder LM). Picks the required metrics. */
    model_kind: optional(literal("decoder-lm", "cnn")),
  }),
  (d) => {
    const required = d.model_kind === "cnn" ? REQUIRED_CNN_METRICS : REQUIRED_METRICS;
    const missing = required.find((m) => !(m in d.metrics) && d.driver?.unavailable[m] === undefined);
    return missing === undefined
      ? null
      : {
          path: ["metrics", missing],
          message:
            "required metric is missing (a driver that cannot measure it names it in driver.unavailable)",
        };
  },
);
export type ExecuteData = Infer<typeof executeData>;

/** The `data` check for each stage, used once the stage reported `status: "ok"`. */
export const stageData = {
  reference: referenceData,
  export: programData,
  quantize: programData,
  lower: delegation,
  execute: executeData,
} satisfies Record<StageName, Check<unknown>>;

export type StageData = { [S in StageName]: Infer<(typeof stageData)[S]> };
