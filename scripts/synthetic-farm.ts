/**
 * A synthetic farm of any size, for the plan benchmark and the sharding tests: `models` hub models
 * × `recipes` × `backends` × `devices` (alternating x86_64 and arm64) × `toolchains`, every
 * combination possible, so cells = the product. Written as YAML, so loading it is timed too.
 */
import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import type { FarmFile } from "../matrix/schema.ts";

export interface SyntheticSize {
  models: number;
  recipes: number;
  backends: number;
  devices: number;
  toolchains: number;
}

const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

export function syntheticFarm(size: SyntheticSize): FarmFile {
  const models = range(size.models, "model-");
  const recipes = range(size.recipes, "recipe-");
  const backends = range(size.backends, "backend-");
  const devices = range(size.devices, "device-");
  const toolchains = range(size.toolchains, "tc-");
  return {
    schema: "pte-farm/farm@1",
    devices: Object.fromEntries(
      devices.map((d, i) => [
        d,
        {
          runs_on: [`self-hosted`, d],
          os: "linux",
          arch: i % 2 === 0 ? "x86_64" : "arm64",
          board: d,
          driver: "python-runtime",
          memory_bandwidth_gbs: null,
          thermal: null,
          fork_prs: false,
        },
      ]),
    ),
    models: Object.fromEntries(
      models.map((m) => [
        m,
        {
          kind: "decoder-lm",
          hub: { id: `synthetic/${m}`, revision: "0".repeat(40) },
          prompts: ["hello"],
          max_new_tokens: 8,
          max_seq_len: 64,
        },
      ]),
    ),
    model_kinds: {},
    recipes: Object.fromEntries(recipes.map((r) => [r, { scheme: "8da4w", params: { group_size: 32 } }])),
    backends: Object.fromEntries(backends.map((b) => [b, { kind: "xnnpack", targets: {} }])),
    toolchains: Object.fromEntries(toolchains.map((t) => [t, { requirements: "stages/requirements.txt" }])),
    build_runners: { x86_64: ["ubuntu-24.04"], arm64: ["ubuntu-24.04-arm"] },
    cell_sets: { all: {} },
    events: {
      pull_request: { cells: "all", only_affected: true },
      push: { cells: "all" },
      schedule: { cells: "all" },
      release: { cells: "all" },
    },
    run: { cells: "all" },
    paths: [{ match: ["**/*.md"], touches: "nothing", why: "documentation" }],
  };
}

export async function writeSyntheticFarm(file: string, size: SyntheticSize): Promise<void> {
  await writeFile(file, stringify(syntheticFarm(size)));
}
