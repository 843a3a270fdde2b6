/**
 * Loads `matrix/farm.yml` into a typed {@link Farm}: the file's shape is checked by schema.ts, the
 * references between its sections and its impossible cells by checks.ts, and here the things on
 * disk (model folders, pins files). Every problem is a ConfigurationError naming file:line:col.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { KNOWN_ISSUES_FILE, REPO_ROOT } from "../actions/src/core/paths.ts";
import { normalize, pinLines, requirementName } from "../actions/src/core/requirements.ts";
import type { PathSegment } from "../actions/src/core/validate.ts";
import { checkFarm } from "./checks.ts";
import { globToRegExp } from "./ids.ts";
import { loadKnownIssues } from "./known-issues.ts";
import {
  type Arch,
  type BuildArch,
  DIMENSIONS,
  type Dimension,
  type FarmFile,
  farmSchema,
  HEALTH_DEFAULTS,
  SESSION_MINUTES_DEFAULT,
} from "./schema.ts";
import type { CellSet, Farm, ToolchainDef } from "./types.ts";
import { readYamlFile } from "./yaml-file.ts";

export { unknownName } from "./ids.ts";

export interface LoadOptions {
  /** The known-issue catalogue exclude rules refer to (default matrix/known-issues.yml); null: not checked. */
  knownIssues?: string | null;
  /** Check that model folders and pins files exist (default true; `plan` in CI needs no checkout of them). */
  checkFiles?: boolean;
}

/** Loads `file` (default matrix/farm.yml) and checks it; relative paths resolve against the repo root. */
export async function loadFarm(file: string, opts: LoadOptions = {}): Promise<Farm> {
  const yaml = await readYamlFile(file, farmSchema, "matrix file");
  const farm = resolve(file, yaml.data);
  const catalogue = opts.knownIssues === undefined ? KNOWN_ISSUES_FILE : opts.knownIssues;
  const knownIssues =
    catalogue === null ? null : new Set((await loadKnownIssues(catalogue)).map((i) => i.id));
  checkFarm(farm, yaml.where, knownIssues);
  if (opts.checkFiles ?? true) await checkFiles(farm, yaml.where);
  return farm;
}

/** The farm from the validated file: pure, so the plan benchmark can time it without disk. */
export function resolve(file: string, data: FarmFile): Farm {
  const abs = (p: string) => path.resolve(REPO_ROOT, p);
  const names = <K extends Dimension>(key: K) => Object.keys(data[key]);
  // What a cell set that omits a dimension means: every name, but the canaries' own recipes and backends.
  const everyName = (key: Dimension) =>
    names(key).filter((n) => {
      if (key === "recipes") return data.recipes[n]?.canary !== true;
      if (key === "backends") return data.backends[n]?.canary !== true;
      return true;
    });
  const defaultBuildArch = (arch: Arch): BuildArch => (arch === "arm64" ? "arm64" : "x86_64");
  // A hub model's shipped twin: the model whose twin_of names it (checked to be one hub model each).
  const twins = new Map(
    Object.entries(data.models).flatMap(([name, m]) =>
      "twin_of" in m && m.twin_of !== undefined ? [[m.twin_of, name] as const] : [],
    ),
  );
  return {
    file,
    data,
    models: new Map(
      Object.entries(data.models).map(([name, m]) => [
        name,
        {
          name,
          kind: m.kind,
          path: m.path === undefined ? null : abs(m.path),
          hub: m.hub ?? null,
          prompts: "prompts" in m ? m.prompts : [],
          max_new_tokens: "max_new_tokens" in m ? m.max_new_tokens : 0,
          max_seq_len: "max_seq_len" in m ? m.max_seq_len : 0,
          inputShape: "input_shape" in m ? m.input_shape : null,
          gate: m.gate ?? {},
          twinOf: "twin_of" in m ? (m.twin_of ?? null) : null,
          twin: twins.get(name) ?? null,
        },
      ]),
    ),
    recipes: new Map(
      Object.entries(data.recipes).map(([name, r]) => [
        name,
        {
          name,
          scheme: r.scheme,
          quantized: r.scheme !== "fp32",
          gate: r.gate ?? null,
          numerics: r.numerics ?? null,
          backends: r.backends ?? null,
          spec: { scheme: r.scheme, ...r.params, name },
          canary: r.canary ?? false,
        },
      ]),
    ),
    backends: new Map(
      Object.entries(data.backends).map(([name, b]) => [
        name,
        {
          name,
          kind: b.kind,
          targets: b.targets,
          spec: { kind: b.kind, ...b.options, name },
          canary: b.canary ?? false,
        },
      ]),
    ),
    devices: new Map(
      Object.entries(data.devices).map(([name, d]) => [
        name,
        {
          name,
          runsOn: d.runs_on,
          runner: name,
          board: d.board,
          os: d.os,
          arch: d.arch,
          buildArch: d.build_arch ?? defaultBuildArch(d.arch),
          driver: d.driver,
          memoryBandwidthGbs: d.memory_bandwidth_gbs,
          thermal: d.thermal,
          forkPrs: d.fork_prs,
          local: d.local ?? false,
          maxQueueMinutes:
            d.max_queue_minutes ?? data.health?.max_queue_minutes ?? HEALTH_DEFAULTS.max_queue_minutes,
          sessionMinutes: d.session_minutes ?? SESSION_MINUTES_DEFAULT,
          emulation: d.emulation === undefined ? null : { qemuCpu: d.emulation.qemu_cpu },
        },
      ]),
    ),
    toolchains: new Map(
      Object.entries(data.toolchains).map(([name, t]) => [
        name,
        { name, requirements: abs(t.requirements), channel: t.channel ?? null },
      ]),
    ),
    kindCaps: new Map(
      (["decoder-lm", "cnn"] as const).map((k) => [
        k,
        { recipes: data.model_kinds[k]?.recipes ?? null, backends: data.model_kinds[k]?.backends ?? null },
      ]),
    ),
    buildRunners: data.build_runners,
    cellSets: new Map(
      Object.entries(data.cell_sets).map(([name, s]) => [
        name,
        Object.fromEntries(DIMENSIONS.map((d) => [d, s[d] ?? everyName(d)])) as CellSet,
      ]),
    ),
    include: data.include ?? [],
    exclude: (data.exclude ?? []).map((e) => ({
      glob: e.cells,
      regexp: globToRegExp(e.cells),
      reason: e.reason,
      knownIssue: e.known_issue ?? null,
    })),
    canaries: (data.canaries ?? []).map((c) => ({ knownIssue: c.known_issue, cell: c.cell, stage: c.stage })),
    events: Object.fromEntries(
      Object.entries(data.events).map(([k, e]) => [
        k,
        { cells: e.cells, onlyAffected: e.only_affected ?? false },
      ]),
    ) as Farm["events"],
    runSet: data.run.cells,
    paths: data.paths,
    health: {
      quarantineAfter:
        data.health?.quarantine_after_infra_errors ?? HEALTH_DEFAULTS.quarantine_after_infra_errors,
      maxTempC: data.health?.max_temp_c ?? HEALTH_DEFAULTS.max_temp_c,
      maxQueueMinutes: data.health?.max_queue_minutes ?? HEALTH_DEFAULTS.max_queue_minutes,
    },
  };
}

async function exists(p: string, kind: "dir" | "file"): Promise<boolean> {
  return stat(p).then(
    (s) => (kind === "dir" ? s.isDirectory() : s.isFile()),
    () => false,
  );
}

/**
 * What a model folder lacks of what the stages load from it: a config and weights for every kind,
 * and for a language model a tokenizer in one of the forms transformers reads (without one, the
 * reference stage fails inside transformers with a message about sentencepiece, not about the folder).
 */
export function missingModelFiles(kind: string, files: readonly string[]): string[] {
  const has = (name: string) => files.includes(name);
  const missing: string[] = [];
  if (!has("config.json")) missing.push("config.json");
  if (
    !files.some(
      (f) => f.endsWith(".safetensors") || f === "pytorch_model.bin" || f === "pytorch_model.bin.index.json",
    )
  )
    missing.push("weights (*.safetensors or pytorch_model.bin)");
  if (
    kind === "decoder-lm" &&
    !(has("tokenizer.json") || has("tokenizer.model") || (has("vocab.json") && has("merges.txt")))
  )
    missing.push("tokenizer (tokenizer.json, tokenizer.model, or vocab.json with merges.txt)");
  return missing;
}

async function checkFiles(farm: Farm, where: (at: readonly PathSegment[]) => string): Promise<void> {
  for (const model of farm.models.values()) {
    if (model.path === null) continue;
    if (await exists(model.path, "dir")) {
      const missing = missingModelFiles(model.kind, await readdir(model.path));
      if (missing.length > 0)
        throw new ConfigurationError(
          `${where(["models", model.name, "path"])}: model ${JSON.stringify(model.name)}: folder ${model.path} has no ${missing.join(", no ")}. ` +
            "The stages load the folder with transformers (from_pretrained): add what is missing",
        );
      continue;
    }
    throw new ConfigurationError(
      `${where(["models", model.name, "path"])}: model ${JSON.stringify(model.name)}: folder ${model.path} does not exist. ` +
        `Point models.${model.name}.path at a Hugging Face model folder (config.json, tokenizer, weights)` +
        (model.name === "tiny-llama"
          ? ", or train the shipped model: python -m pte_stages.training.train_tiny --out stages/models/tiny-llama"
          : ""),
    );
  }
  for (const tc of farm.toolchains.values()) {
    if (!(await exists(tc.requirements, "file"))) {
      throw new ConfigurationError(
        `${where(["toolchains", tc.name, "requirements"])}: toolchain ${JSON.stringify(tc.name)}: pins file ${tc.requirements} does not exist`,
      );
    }
    if (tc.channel !== null) await checkChannel(tc, tc.channel, where);
  }
}

/** Every pin of a channel's file is tracked or held, and nothing else is named: what moves is explicit. */
async function checkChannel(
  tc: ToolchainDef,
  channel: { track: string[]; hold: string[] },
  where: (at: readonly PathSegment[]) => string,
): Promise<void> {
  const pins = (await pinLines(tc.requirements)).map(requirementName).filter((n): n is string => n !== null);
  const named = [...channel.track, ...channel.hold].map(normalize);
  const unnamed = pins.filter((p) => !named.includes(p));
  const unknown = named.filter((n) => !pins.includes(n));
  const twice = channel.track.map(normalize).filter((n) => channel.hold.map(normalize).includes(n));
  const problem =
    unnamed.length > 0
      ? `pins ${unnamed.join(", ")} are neither tracked nor held; add each to track or hold`
      : unknown.length > 0
        ? `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not pinned in ${path.basename(tc.requirements)}; pin it there or remove it`
        : twice.length > 0
          ? `${twice.join(", ")} cannot be both tracked and held`
          : null;
  if (problem !== null) {
    throw new ConfigurationError(
      `${where(["toolchains", tc.name, "channel"])}: toolchain ${JSON.stringify(tc.name)}: ${problem}`,
    );
  }
}
