/**
 * Which cells a pull request touches, from its changed paths. Pure: the farm (and the base's farm,
 * to diff the matrix itself), the candidate cells and the paths in; a reason per touched cell out.
 *
 * A path is decided by the first of: the matrix file itself (diffed entry by entry against the
 * base: a changed recipe touches that recipe's cells); the `paths:` rules of farm.yml, in order; a
 * model's `path` folder (that model); a toolchain's pins file (that toolchain); and else every
 * cell — an unknown path could touch anything, and the reason says so.
 */
import path from "node:path";
import { canonicalJson } from "../actions/src/core/hashing.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import type { CellRef } from "../actions/src/schemas/stage.ts";
import { type Cell, cellSet } from "./cells.ts";
import { DIMENSIONS, type Dimension } from "./schema.ts";
import type { Farm } from "./types.ts";

/** What one changed path (or one matrix entry) touches, and why. */
export interface Touch {
  why: string;
  all?: boolean;
  names?: Partial<Record<Dimension, ReadonlySet<string>>>;
  cells?: ReadonlySet<string>;
}

/** How one changed path was decided, for the plan's `changes` list. */
export interface PathDecision {
  path: string;
  touches: "nothing" | "all" | "some";
  why: string;
}

const PART: Record<Dimension, keyof CellRef> = {
  models: "model",
  recipes: "recipe",
  backends: "backend",
  devices: "device",
  toolchains: "toolchain",
};

/** A repository-path glob: `*` and `?` stay within a folder, `**` spans folders (`a/**` is a's whole tree). */
export function pathGlobToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (glob.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 2;
    } else if (glob.startsWith("**", i)) {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const rel = (p: string) => path.relative(REPO_ROOT, p).split(path.sep).join("/");

function touchFromRule(t: Farm["paths"][number]["touches"], why: string): Touch | null {
  if (t === "nothing") return null;
  if (t === "all") return { why, all: true };
  const names: Touch["names"] = {};
  for (const dim of DIMENSIONS) if (t[dim] !== undefined) names[dim] = new Set(t[dim]);
  return { why, names };
}

/**
 * What changed between two versions of the matrix, entry by entry. Entries are compared as
 * canonical JSON, so reordering keys is not a change; a new entry counts as changed.
 */
export function diffFarms(base: Farm, head: Farm, candidateSet: string, file: string): Touch[] {
  const touches: Touch[] = [];
  for (const dim of DIMENSIONS) {
    const before = base.data[dim] as Record<string, unknown>;
    for (const [name, entry] of Object.entries(head.data[dim] as Record<string, unknown>)) {
      if (before[name] !== undefined && canonicalJson(before[name]) === canonicalJson(entry)) continue;
      const what = before[name] === undefined ? "added" : "changed";
      touches.push({ why: `${file}: ${PART[dim]} ${name} ${what}`, names: { [dim]: new Set([name]) } });
    }
  }
  for (const kind of ["decoder-lm", "cnn"] as const) {
    if (
      canonicalJson(base.data.model_kinds[kind] ?? null) ===
      canonicalJson(head.data.model_kinds[kind] ?? null)
    )
      continue;
    const models = [...head.models.values()].filter((m) => m.kind === kind).map((m) => m.name);
    touches.push({ why: `${file}: model_kinds.${kind} changed`, names: { models: new Set(models) } });
  }
  if (canonicalJson(base.data.build_runners) !== canonicalJson(head.data.build_runners)) {
    touches.push({ why: `${file}: build_runners changed`, all: true });
  }
  // Cells a set, include or exclude change brings into the candidates are new to this event.
  const before = base.cellSets.has(candidateSet)
    ? new Set(cellSet(base, candidateSet).cells.map((c) => c.id))
    : new Set<string>();
  const added = cellSet(head, candidateSet)
    .cells.map((c) => c.id)
    .filter((id) => !before.has(id));
  if (added.length > 0) {
    touches.push({
      why: `${file}: newly in cell set ${candidateSet} (cell_sets, include or exclude changed)`,
      cells: new Set(added),
    });
  }
  return touches;
}

/** Decides one changed path; `matrixTouches` is the matrix diff, computed once by the caller. */
function decide(
  farm: Farm,
  file: string,
  matrixFile: string,
  matrixTouches: () => Touch[],
): {
  decision: PathDecision;
  touches: Touch[];
} {
  if (file === matrixFile) {
    const touches = matrixTouches();
    return {
      decision: {
        path: file,
        touches: touches.length === 0 ? "nothing" : "some",
        why: "the matrix, diffed against the base",
      },
      touches,
    };
  }
  for (const rule of farm.paths) {
    if (!rule.match.some((g) => pathGlobToRegExp(g).test(file))) continue;
    const touch = touchFromRule(rule.touches, `${file} changed: ${rule.why}`);
    const touches = touch === null ? [] : [touch];
    const kind = rule.touches === "nothing" ? "nothing" : rule.touches === "all" ? "all" : "some";
    return { decision: { path: file, touches: kind, why: rule.why }, touches };
  }
  for (const m of farm.models.values()) {
    if (m.path !== null && `${file}/`.startsWith(`${rel(m.path)}/`)) {
      const why = `${file} changed: inside model ${m.name}'s folder`;
      return {
        decision: { path: file, touches: "some", why },
        touches: [{ why, names: { models: new Set([m.name]) } }],
      };
    }
  }
  for (const t of farm.toolchains.values()) {
    if (file === rel(t.requirements)) {
      const why = `${file} changed: the pins of toolchain ${t.name}`;
      return {
        decision: { path: file, touches: "some", why },
        touches: [{ why, names: { toolchains: new Set([t.name]) } }],
      };
    }
  }
  const why = `${file} changed and no rule in paths: covers it, so it may touch anything`;
  return { decision: { path: file, touches: "all", why }, touches: [{ why, all: true }] };
}

function touches(t: Touch, cell: Cell): boolean {
  if (t.all) return true;
  if (t.cells?.has(cell.id)) return true;
  if (t.names === undefined) return false;
  return DIMENSIONS.some((dim) => t.names?.[dim]?.has(cell.ref[PART[dim]]) ?? false);
}

export type AffectedPaths = PathDecision[];

export interface Affected {
  /** Touched candidate cells → why (the first reason, and how many more). */
  reasons: Map<string, string>;
  changes: PathDecision[];
}

/**
 * The candidate cells the changed paths touch. Without a base matrix (none given, or one that does
 * not validate, e.g. an older format) a change to the matrix file touches every candidate, and the
 * reason says so.
 */
export function affectedCells(
  farm: Farm,
  candidates: readonly Cell[],
  changed: readonly string[],
  base: Farm | null,
  candidateSet: string,
  /** Why there is no base to diff ("the base matrix does not validate"), for the reason text. */
  noBase?: string,
): Affected {
  const matrixFile = rel(farm.file);
  let diff: Touch[] | undefined;
  const matrixTouches = () => {
    diff ??=
      base === null
        ? [
            {
              why: `${matrixFile} changed and ${noBase ?? "no --base-matrix was given"} to diff it against`,
              all: true,
            },
          ]
        : diffFarms(base, farm, candidateSet, matrixFile);
    return diff;
  };
  const all: Touch[] = [];
  const changes: PathDecision[] = [];
  for (const file of changed) {
    const { decision, touches: t } = decide(farm, file, matrixFile, matrixTouches);
    changes.push(decision);
    all.push(...t);
  }
  const reasons = new Map<string, string>();
  for (const cell of candidates) {
    const hits = all.filter((t) => touches(t, cell));
    const first = hits[0];
    if (first === undefined) continue;
    reasons.set(cell.id, hits.length === 1 ? first.why : `${first.why} (+${hits.length - 1} more)`);
  }
  return { reasons, changes };
}
