/**
 * Where things live. Everything is relative to the repository root (this file's `../..`), never
 * to the current directory, so `pte-farm` behaves the same from any folder.
 */
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * The nearest folder at or above `from` that holds the stage package. Found by walking up rather
 * than by a fixed `../..` because this file runs from two depths: as source (`actions/src/`) and
 * inlined into an action bundle (`actions/<name>/dist/`).
 */
export function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "stages", "pte_stages")) && existsSync(path.join(dir, "package.json"))) {
      return dir;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(
        `bug: no pte-farm checkout (stages/pte_stages beside package.json) at or above ${from}`,
      );
    }
  }
}

/** The repository root: the folder holding package.json, `stages/` and `matrix/`. */
export const REPO_ROOT = findRepoRoot(import.meta.dirname);

export const STAGES_DIR = path.join(REPO_ROOT, "stages");
export const DEFAULT_MATRIX = path.join(REPO_ROOT, "matrix", "farm.yml");
export const KNOWN_ISSUES_FILE = path.join(REPO_ROOT, "matrix", "known-issues.yml");

/** The build cache; `PTE_FARM_CACHE` overrides it (the bench script points it at a fresh folder). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PTE_FARM_CACHE ?? path.join(REPO_ROOT, ".cache", "pte-farm");
}

/** The interpreter with the pinned toolchain: `PTE_FARM_PYTHON`, else the project venv. */
export function defaultPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.PTE_FARM_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
}

/** Shows a path relative to the current folder when it is inside it: shorter, and still copy-pasteable. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

/** `p` relative to the run's output folder (a relative `p` already is); anything outside it is our bug. */
export function inRunOutput(outDir: string, p: string): string {
  const rel = path.relative(outDir, path.resolve(outDir, p));
  if (rel.startsWith("..") || path.isAbsolute(rel)) {
    throw new Error(`bug: ${p} is outside the run's output folder ${outDir}`);
  }
  return rel;
}

/** An interpreter path fit for a record: relative to the repo root when inside it, else its bare name. */
export function portablePython(python: string): string {
  const rel = path.relative(REPO_ROOT, path.resolve(python));
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : path.basename(python);
}
