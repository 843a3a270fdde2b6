/**
 * The run record (`pte-farm/run@1`, DESIGN.md): one JSON file per cell execution. It is what
 * compare, history and every report read, so it is validated both when written (our own bug
 * shows up here, not three jobs later) and when read back from another workflow's artefacts.
 */
import {
  arr,
  type Infer,
  int,
  literal,
  nonNegInt,
  nullable,
  num,
  obj,
  optional,
  record,
  str,
} from "../core/validate.ts";
import {
  adaptiveSession,
  delegation,
  driverInfo,
  metric,
  promptNumerics,
  repTelemetry,
  TIMERS,
  toolchainVersions,
} from "./stage.ts";

export const RUN_STATUSES = ["pass", "fail", "infra-error", "timeout", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const ROLES = ["base", "head", "nightly", "release"] as const;
export type Role = (typeof ROLES)[number];

/** How one stage invocation ended, from the orchestrator's point of view. */
export const STAGE_OUTCOMES = ["ok", "stage-failure", "config-error", "infra-failure", "timeout"] as const;
export type StageOutcomeKind = (typeof STAGE_OUTCOMES)[number];

export const gatePolicy = obj({
  /** Which reference the `.pte` must match bit for bit. */
  reference: literal("fp32", "quantized"),
  /** Whether FP32 agreement fails the gate or is only reported (quantized recipes default to report). */
  fp32: literal("gate", "report"),
  /**
   * OPTIONAL (CNN models): the largest allowed difference between the `.pte`'s INT8 output codes
   * and the quantized reference's, in quanta of the output scale.
   */
  max_abs_diff_q: optional(nonNegInt),
});
export type GatePolicy = Infer<typeof gatePolicy>;

export const divergence = obj({
  reference: literal("fp32", "quantized"),
  prompt_index: nonNegInt,
  position: nonNegInt,
  /** null when the reference ended before the `.pte` did. */
  expected_id: nullable(int),
  expected_text: nullable(str),
  /** null when the `.pte` stopped early. */
  actual_id: nullable(int),
  actual_text: nullable(str),
});
export type Divergence = Infer<typeof divergence>;

/** The INT8 output comparison (CNN models): the largest difference, where it is, and the bound. */
export const outputAgreement = obj({
  max_abs_diff_q: nonNegInt,
  bound_q: nonNegInt,
  /** The first place the largest difference occurs. */
  prompt_index: nonNegInt,
  position: nonNegInt,
  /** How many output codes differ at all, of how many. */
  differing: nonNegInt,
  total: nonNegInt,
});
export type OutputAgreement = Infer<typeof outputAgreement>;

/** A recipe's numerics tolerance (matrix `recipes.NAME.numerics`), with the reason for its size. */
export const numericsTolerance = obj({ max_abs_dlogit: num, why: str });

/**
 * OPTIONAL (issue 17): the `.pte`'s logits against the recipe's eager reference (gate/numerics.ts).
 * `report`: the recipe sets no tolerance. `worst.max_abs_dlogit` null: a NaN or infinite logit.
 */
export const numericsGate = obj({
  verdict: literal("pass", "fail", "report"),
  reference: str,
  top_k: nonNegInt,
  tolerance: nullable(numericsTolerance),
  worst: nullable(obj({ prompt_index: nonNegInt, step: nonNegInt, max_abs_dlogit: nullable(num) })),
  min_margin: nullable(obj({ prompt_index: nonNegInt, step: nonNegInt, value: num })),
  prompts: arr(promptNumerics),
});
export type NumericsGate = Infer<typeof numericsGate>;

export const gateResult = obj({
  /** `fail` when the tokens differ, or (tokens equal) when the numerics gate failed. */
  verdict: literal("pass", "fail"),
  policy: gatePolicy,
  first_divergence: nullable(divergence),
  fp32_agreement: obj({ matching_prefix: nonNegInt, total: nonNegInt }),
  /** OPTIONAL: set when the policy bounds INT8 outputs (`max_abs_diff_q`). */
  outputs: optional(outputAgreement),
  numerics: optional(numericsGate),
});
export type GateResult = Infer<typeof gateResult>;

const cell = obj({ id: str, model: str, recipe: str, backend: str, device: str, toolchain: str });

/** One stage of a record's `stages` list. */
export const stageEntry = obj({
  stage: str,
  outcome: literal(...STAGE_OUTCOMES),
  /** `hit`: reused from the build cache; `shared`: built earlier in this run for another cell. */
  cache: literal("hit", "miss", "shared", "off"),
  wall_s: num,
  dir: str,
  log: nullable(str),
});

export const telemetrySample = obj({
  label: str,
  at: str,
  thermal_c: record(num),
  cpu_mhz: record(num),
});

/** Why a cell did not pass: the first failed stage, its known-issue triage and a reproduce line. */
export const failureNote = obj({
  stage: optional(str),
  outcome: str,
  message: str,
  known_issue: nullable(str),
  triage: str,
  reproduce: str,
});

export const roofline = obj({
  /** Bytes read from DRAM per decoded token, approximated by the `.pte`'s size (weights dominate). */
  bytes_per_token: num,
  bandwidth_gbs: num,
  bound_tokens_per_sec: num,
  /** Median decode tokens/s over the bound (unflagged samples only). */
  fraction: nullable(num),
});
export type Roofline = Infer<typeof roofline>;

export const runRecord = obj({
  schema: literal("pte-farm/run@1"),
  cell,
  session: str,
  role: literal(...ROLES),
  git_sha: nullable(str),
  started_at: str,
  finished_at: str,
  status: literal(...RUN_STATUSES),
  toolchain: obj({
    name: str,
    build: nullable(toolchainVersions),
    device: nullable(toolchainVersions),
    /** OPTIONAL: the id of the lock (`pte-farm/lock@1`) the cell ran with, when its toolchain is a channel or a lock. */
    lock: optional(str),
  }),
  device: obj({
    runner: str,
    board: str,
    hostname: str,
    os: str,
    kernel: str,
    arch: str,
    cpu: str,
    cpus: nonNegInt,
    memory_mb: nonNegInt,
    /** OPTIONAL (issue 14): set when the device is an instruction set under QEMU user mode; its timings are not speed. */
    emulation: optional(obj({ qemu: str, cpu_model: str, host_arch: str })),
  }),
  /** `samples`: the orchestrator's before/after-execute readings; `reps` (OPTIONAL): per rep, from execute. */
  telemetry: obj({ samples: arr(telemetrySample), reps: optional(arr(repTelemetry)) }),
  metrics: record(metric),
  tokens: arr(
    obj({
      prompt: str,
      prompt_ids: arr(int),
      generated_ids: arr(int),
      reference_ids: arr(int),
      quantized_reference_ids: nullable(arr(int)),
    }),
  ),
  gate: nullable(gateResult),
  /** OPTIONAL: decode speed against the device's memory-bandwidth bound; null when the bandwidth is unknown. */
  roofline: optional(nullable(roofline)),
  /**
   * OPTIONAL (issue 7): the `.pte` the device executed, from its manifest (execute refuses a `.pte`
   * whose sha256 differs from the manifest's). A release ships a file only when this matches the
   * build's `.pte`, so the bench figures it publishes are of those exact bytes.
   */
  pte: optional(obj({ sha256: str, bytes: nonNegInt })),
  /** OPTIONAL (issue 6): the `.pte`'s delegation report, from its manifest (compare's fragmentation alarm). */
  delegation: optional(delegation),
  /** OPTIONAL: set when base and head were measured interleaved in one session (same `session` id). */
  interleave: optional(
    obj({
      order: arr(literal("base", "head")),
      partner_pte_sha256: str,
      /** OPTIONAL (issue 16): the blocks of an adaptive session, how many reps and how long. */
      adaptive: optional(adaptiveSession),
    }),
  ),
  /**
   * OPTIONAL (issue 6): the execute driver (llama-main, fvp) and the metrics it could not measure,
   * with why; absent for the Python runtime. Readers that predate it see those metrics as missing.
   */
  driver: optional(driverInfo),
  /**
   * OPTIONAL (issue 17): for a hub model with a shipped twin (matrix `twin_of`), the twin's cell of
   * the same recipe, backend, device and toolchain: where a report points when this cell could not run.
   */
  twin_cell: optional(str),
  /** OPTIONAL (issue 16): what timed decode in the Python runtime's execute, and why not the runner. */
  timer: optional(obj({ name: literal(...TIMERS), fallback: optional(str) })),
  stages: arr(stageEntry),
  /** Why the cell did not pass, for people: the first failed stage and its known-issue triage. */
  failure: nullable(failureNote),
});
export type RunRecord = Infer<typeof runRecord>;
