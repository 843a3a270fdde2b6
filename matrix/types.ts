/**
 * The resolved farm: what loadFarm returns and every other matrix module reads. In a file of its own
 * so the loader, its checks and the cell expansion can share the types without importing each other.
 */
import type {
  Arch,
  BuildArch,
  Dimension,
  Driver,
  FarmEvent,
  FarmFile,
  ModelKind,
  PathRule,
} from "./schema.ts";

export type GatePolicy = { fp32: "gate" | "report" };

export interface ModelDef {
  name: string;
  kind: ModelKind;
  /** Absolute path of the local model folder, or null for a hub model. */
  path: string | null;
  hub: { id: string; revision: string } | null;
  /** Empty for models without prompts (the CNN). */
  prompts: string[];
  max_new_tokens: number;
  max_seq_len: number;
  inputShape: number[] | null;
  gate: { default?: GatePolicy; recipes?: Record<string, GatePolicy> };
  /** The hub model this one is a same-architecture twin of (matrix `twin_of`), or null. */
  twinOf: string | null;
  /** The shipped model whose `twin_of` names this one (its same-architecture twin), or null. */
  twin: string | null;
}
export interface RecipeDef {
  name: string;
  scheme: string;
  /** True for every scheme but fp32: the reference then also holds the eager quantized tokens. */
  quantized: boolean;
  /** The recipe's own FP32 gate policy, if it sets one (a model's per-recipe policy wins). */
  gate: GatePolicy | null;
  /** The numerics tolerance (gate/numerics.ts); null: the drift is reported, not gated. */
  numerics: { max_abs_dlogit: number; why: string } | null;
  /** The backends it suits; null: all. */
  backends: string[] | null;
  /** What the stages receive as `spec.recipe`: `{scheme, ...params, name}`. */
  spec: Record<string, unknown> & { name: string; scheme: string };
  /** For canaries only: left out of a cell set that omits recipes. */
  canary: boolean;
}
export interface BackendDef {
  name: string;
  kind: string;
  targets: { drivers?: Driver[]; arch?: Arch[]; devices?: string[] };
  /** What the stages receive as `spec.backend`: `{kind, ...options, name}`. */
  spec: Record<string, unknown> & { name: string; kind: string };
  /** For canaries only: left out of a cell set that omits backends. */
  canary: boolean;
}
export interface DeviceDef {
  name: string;
  runsOn: string[];
  /** The run record's `device.runner`: the farm's device name (runs-on labels say where, not which). */
  runner: string;
  board: string;
  os: "linux" | "macos" | "bare-metal";
  arch: Arch;
  buildArch: BuildArch;
  driver: Driver;
  memoryBandwidthGbs: number | null;
  thermal: { cooldown_below_c: number; max_wait_s: number } | null;
  forkPrs: boolean;
  local: boolean;
  /** How long its device jobs may wait for a runner (the device's own, else the health default). */
  maxQueueMinutes: number;
  /** The time budget of an interleaved base/head session on it (a pull request's adaptive reps). */
  sessionMinutes: number;
  /** An instruction set under QEMU user mode (the `arch` on an x86_64 host); null: real hardware. */
  emulation: { qemuCpu: string } | null;
}
export interface ToolchainDef {
  name: string;
  /** Absolute path of the pins file; its contents are part of every cache key. */
  requirements: string;
  /** A channel's tracked (newest release) and held (pinned) packages; null for a pinned set. */
  channel: { track: string[]; hold: string[] } | null;
}
/** A cell set with every dimension spelled out (an omitted one is every name, in YAML order). */
export type CellSet = Record<Dimension, string[]>;

export interface ExcludeRule {
  glob: string;
  regexp: RegExp;
  reason: string;
  knownIssue: string | null;
}

/** The validated farm, with names resolved and paths absolute. */
export interface Farm {
  file: string;
  /** The validated file as written, for diffing two versions of the matrix. */
  data: FarmFile;
  models: Map<string, ModelDef>;
  recipes: Map<string, RecipeDef>;
  backends: Map<string, BackendDef>;
  devices: Map<string, DeviceDef>;
  toolchains: Map<string, ToolchainDef>;
  kindCaps: Map<ModelKind, { recipes: string[] | null; backends: string[] | null }>;
  buildRunners: Record<BuildArch, string[]>;
  cellSets: Map<string, CellSet>;
  include: { cell: string; sets: string[]; reason: string }[];
  exclude: ExcludeRule[];
  /** A cell (without toolchain) per known issue, expected to fail at `stage` with that issue. */
  canaries: { knownIssue: string; cell: string; stage: string }[];
  events: Record<FarmEvent, { cells: string; onlyAffected: boolean }>;
  runSet: string;
  paths: PathRule[];
  /** The `health` section with its defaults filled in. */
  health: { quarantineAfter: number; maxTempC: number; maxQueueMinutes: number };
}
