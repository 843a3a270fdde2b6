/**
 * A plan as GitHub Actions consumes it. A job's `strategy.matrix` may hold at most 256 jobs, and a
 * workflow cannot create jobs at run time, so a list over the limit is split into shards of even
 * size, each fed to its own fixed job (`build-1`, `build-2`, … guarded by `if: outputs.builds_2`).
 *
 * Shape (stdout JSON and `$GITHUB_OUTPUT` keys alike): `builds` and `devices` hold
 * `{include: [...]}` when a list fits in one matrix; when it does not, `builds_1`, `builds_2`, …
 * (and `devices_1`, …) replace it. `shards` always says how many of each there are.
 */
import type { Plan } from "./plan.ts";

/** GitHub's limit on the jobs one matrix may generate. */
export const MATRIX_LIMIT = 256;

/** Splits `items` into the fewest shards of at most `limit`, as even as possible, in order. */
export function shard<T>(items: readonly T[], limit: number = MATRIX_LIMIT): T[][] {
  const count = Math.max(1, Math.ceil(items.length / limit));
  const size = Math.ceil(items.length / count);
  return Array.from({ length: count }, (_, i) => items.slice(i * size, (i + 1) * size));
}

function lists<T>(key: string, items: readonly T[], limit: number): Record<string, { include: T[] }> {
  const shards = shard(items, limit);
  if (shards.length === 1) return { [key]: { include: [...items] } };
  return Object.fromEntries(shards.map((s, i) => [`${key}_${i + 1}`, { include: s }]));
}

/** The plan in its published shape (see the file comment). */
export function planOutput(plan: Plan, limit: number = MATRIX_LIMIT): Record<string, unknown> {
  const { builds, devices, ...rest } = plan;
  return {
    schema: rest.schema,
    event: rest.event,
    cell_set: rest.cell_set,
    ...lists("builds", builds, limit),
    ...lists("devices", devices, limit),
    shards: { builds: shard(builds, limit).length, devices: shard(devices, limit).length },
    skipped: rest.skipped,
    selection: rest.selection,
    ...(rest.changes === undefined ? {} : { changes: rest.changes }),
  };
}

/**
 * `$GITHUB_OUTPUT` lines for `outputs`: `key=value` with values as single-line JSON (strings as
 * they are), or GitHub's `key<<DELIMITER` form when a value contains a newline.
 */
export function githubOutput(outputs: Record<string, unknown>, delimiter = "PTE_FARM_EOF"): string {
  let text = "";
  for (const [key, value] of Object.entries(outputs)) {
    const v = typeof value === "string" ? value : JSON.stringify(value);
    if (!v.includes("\n")) {
      text += `${key}=${v}\n`;
      continue;
    }
    let d = delimiter;
    while (v.split("\n").includes(d)) d = `${d}_`;
    text += `${key}<<${d}\n${v}\n${d}\n`;
  }
  return text;
}

/**
 * JSON for people: objects are indented, an array of objects holds one object per line (one job,
 * one cell), and arrays of plain values stay on one line. Still JSON: `JSON.parse` reads it back.
 */
export function readableJson(value: unknown, indent = ""): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (!value.some((v) => v !== null && typeof v === "object")) return JSON.stringify(value);
    return `[\n${value.map((v) => inner + JSON.stringify(v)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  const body = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${readableJson(v, inner)}`);
  return `{\n${body.join(",\n")}\n${indent}}`;
}
