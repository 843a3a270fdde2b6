/**
 * The content-addressed build cache (default `.cache/pte-farm/`). A cached stage's folder is
 * reused as is — result.json, artefacts, log — so a hit copies nothing; the run output links to it.
 *
 * key = sha256(canonical JSON of {stage, key material, toolchain pins, installed packages,
 * stage code hash}). The key material is the spec *projected onto what the stage's output
 * depends on* (see {@link keyMaterial}), with input artefact paths replaced by their sha256: that
 * projection is what lets one export serve every recipe and one `.pte` serve every device.
 *
 * Writes are atomic: a build runs in `tmp/<random>` and is renamed into `entries/<stage>/<key>`
 * only when it succeeded, so a killed build leaves no half entry. Only `ok` stages are cached.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import type { Cell } from "../../../matrix/cells.ts";
import { InfrastructureError } from "../core/errors.ts";
import { canonicalJson, listFiles, sha256Text, sha256Tree } from "../core/hashing.ts";
import { STAGES_DIR } from "../core/paths.ts";
import { type Check, parse, parseJson, ValidationError } from "../core/validate.ts";
import {
  CACHEABLE_STAGES,
  type StageName,
  type StageResult,
  type StageSpec,
  stageData,
  stageResult,
} from "../schemas/stage.ts";

/**
 * The part of a spec a stage's output depends on. Every stage depends on the model, the prompts
 * (a stage may use them as example inputs), the toolchain name and the options; beyond that:
 * reference on max_new_tokens and the recipe; export on nothing more; quantize on the recipe and
 * its input; lower on the recipe, the backend and its input. The device never enters a build key.
 */
export function keyMaterial(spec: StageSpec, inputShas: Record<string, string>): Record<string, unknown> {
  const common = {
    model: { id: spec.model.id, max_seq_len: spec.model.max_seq_len },
    prompts: spec.prompts,
    toolchain: spec.cell.toolchain,
    options: spec.options,
  };
  switch (spec.stage) {
    case "reference":
      return { ...common, max_new_tokens: spec.max_new_tokens, recipe: spec.recipe };
    case "export":
      return common;
    case "quantize":
      return { ...common, recipe: spec.recipe, inputs: inputShas };
    case "lower":
      return { ...common, recipe: spec.recipe, backend: spec.backend, inputs: inputShas };
    case "execute":
      throw new Error("bug: execute is never cached (it measures the device, every time)");
  }
}

/** What, besides the spec, a build depends on. Computed once per run by {@link fingerprintToolchain}. */
export interface ToolchainFingerprint {
  /** The pins file's contents (stages/requirements.txt). */
  pins: string;
  /** `name==version` of every package installed in the interpreter (catches the torch pin, which lives in the Makefile). */
  installed: string[];
  /** sha256 over stages/pte_stages/**\/*.py. */
  stageCode: string;
}

export function cacheKey(
  stage: StageName,
  material: unknown,
  toolchain: ToolchainFingerprint,
  modelHash: string,
): string {
  return sha256Text(canonicalJson({ stage, material, toolchain, model: modelHash }));
}

const PROBE =
  "import importlib.metadata as m; print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))";

/** Reads the pins, lists the interpreter's installed packages and hashes the stage code. */
export async function fingerprintToolchain(args: {
  python: string;
  pinsFile: string;
  stagesPackageDir: string;
}): Promise<ToolchainFingerprint> {
  const pins = await readFile(args.pinsFile, "utf8");
  const probe = await execa(args.python, ["-c", PROBE], { reject: false });
  if (probe.exitCode !== 0) {
    throw new InfrastructureError(
      `cannot list the packages of ${args.python} (${probe.shortMessage}); set PTE_FARM_PYTHON to the toolchain's python or run \`make setup\``,
    );
  }
  const installed = probe.stdout.split("\n").filter((l) => l !== "");
  const stageCode = await sha256Tree(
    args.stagesPackageDir,
    (rel) => rel.endsWith(".py") && !rel.includes("__pycache__"),
  );
  return { pins, installed, stageCode };
}

/** One fingerprint per toolchain the cells use, each computed once. */
export async function toolchainFingerprints(
  cells: readonly Pick<Cell, "toolchain">[],
  python: string,
): Promise<Map<string, ToolchainFingerprint>> {
  const out = new Map<string, ToolchainFingerprint>();
  for (const cell of cells) {
    if (out.has(cell.toolchain.name)) continue;
    out.set(
      cell.toolchain.name,
      await fingerprintToolchain({
        python,
        pinsFile: cell.toolchain.requirements,
        stagesPackageDir: path.join(STAGES_DIR, "pte_stages"),
      }),
    );
  }
  return out;
}

const modelHashes = new Map<string, Promise<string>>();

/**
 * sha256 over a model folder's files. Memoised per process on the folder's listing with sizes and
 * mtimes, so weights are hashed once per run but an edited folder is hashed again.
 */
export async function modelFolderHash(dir: string): Promise<string> {
  const files = await listFiles(dir);
  const stamps = await Promise.all(
    files.map(async (rel) => {
      const s = await stat(path.join(dir, rel));
      return `${rel}:${s.size}:${s.mtimeMs}`;
    }),
  );
  const memoKey = `${dir}\0${stamps.join("\n")}`;
  let hash = modelHashes.get(memoKey);
  if (hash === undefined) {
    hash = sha256Tree(dir);
    modelHashes.set(memoKey, hash);
  }
  return hash;
}

/** A stage folder served from the cache. */
export interface CacheHit {
  dir: string;
  result: StageResult;
  data: unknown;
}

export class BuildCache {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** `kind` is a stage name, or another build's (the health check's `smoke`): one namespace each. */
  entryDir(kind: StageName | "smoke", key: string): string {
    return path.join(this.root, "entries", kind, key.slice(0, 2), key);
  }

  /**
   * The cached stage for `key`, or null. An entry that no longer validates (edited, truncated) is
   * removed and reported as a miss rather than trusted. Artefact sizes are checked, not hashes:
   * the hashes were verified when the entry was written, and rehashing GBs on every hit would
   * defeat the cache.
   */
  async lookup(stage: StageName, key: string): Promise<CacheHit | null> {
    const dir = this.entryDir(stage, key);
    let text: string;
    try {
      text = await readFile(path.join(dir, "result.json"), "utf8");
    } catch {
      return null;
    }
    try {
      const result = parseJson(stageResult, text, path.join(dir, "result.json"));
      if (result.status !== "ok" || result.stage !== stage)
        throw new ValidationError(dir, [], "not a successful entry");
      const data = parse(stageData[stage] as Check<unknown>, result.data, `${dir}/result.json: data`);
      for (const a of Object.values(result.artefacts)) {
        const s = await stat(path.join(dir, a.path));
        if (s.size !== a.bytes) throw new ValidationError(dir, [], `artefact ${a.path} changed size`);
      }
      // A hit is a use: the budget's pruning (cache-prune.ts) removes least-recently-used entries.
      const now = new Date();
      await utimes(dir, now, now).catch(() => undefined);
      return { dir, result, data };
    } catch {
      await this.evict(dir);
      return null;
    }
  }

  /** A fresh folder to build in, on the same file system as the entries (so publishing is a rename). */
  async tempDir(kind: StageName | "smoke"): Promise<string> {
    const tmp = path.join(this.root, "tmp");
    await mkdir(tmp, { recursive: true });
    return mkdtemp(path.join(tmp, `${kind}-`));
  }

  /**
   * A cached build that is not a stage (so has no result.json to validate): its folder when every
   * one of `files` is there and `verify` accepts it, else null; a folder `verify` rejects is
   * evicted, as {@link lookup} evicts a bad stage entry. Written only by {@link publishFolder},
   * which renames a whole folder into place, so a folder that exists is complete.
   */
  async lookupFolder(
    kind: "smoke",
    key: string,
    files: readonly string[],
    verify: (dir: string) => Promise<boolean> = async () => true,
  ): Promise<string | null> {
    const dir = this.entryDir(kind, key);
    for (const f of files) {
      const s = await stat(path.join(dir, f)).catch(() => null);
      if (s === null || !s.isFile()) return null;
    }
    if (await verify(dir).catch(() => false)) return dir;
    await this.evict(dir);
    return null;
  }

  /** Publishes a non-stage build as {@link publish} does a stage's: atomically, first writer wins. */
  async publishFolder(kind: "smoke", key: string, builtDir: string, material: unknown): Promise<string> {
    return this.publishEntry(kind, key, builtDir, material);
  }

  /**
   * Publishes a successful build atomically. If another process published the same key first,
   * its entry wins and ours is discarded (both are builds of the same inputs).
   */
  async publish(stage: StageName, key: string, builtDir: string, material: unknown): Promise<string> {
    if (!CACHEABLE_STAGES.includes(stage)) throw new Error(`bug: ${stage} is not cacheable`);
    return this.publishEntry(stage, key, builtDir, material);
  }

  private async publishEntry(
    kind: StageName | "smoke",
    key: string,
    builtDir: string,
    material: unknown,
  ): Promise<string> {
    const dir = this.entryDir(kind, key);
    await writeFile(
      path.join(builtDir, "cache-entry.json"),
      `${JSON.stringify({ key, stage: kind, material, created_at: new Date().toISOString() }, null, 2)}\n`,
    );
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await rename(builtDir, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
      await rm(builtDir, { recursive: true, force: true });
    }
    return dir;
  }

  /**
   * Removes build folders left in `tmp/` by runs that were killed (SIGKILL, power loss) before
   * they could publish or move them. Only old ones: a young folder may be another run's live build.
   */
  async sweepTemp(olderThanMs = 24 * 3600 * 1000): Promise<void> {
    const tmp = path.join(this.root, "tmp");
    const names = await readdir(tmp).catch(() => [] as string[]);
    for (const name of names) {
      const s = await stat(path.join(tmp, name)).catch(() => null);
      if (s !== null && Date.now() - s.mtimeMs > olderThanMs)
        await rm(path.join(tmp, name), { recursive: true, force: true });
    }
  }

  /** Moves a bad entry out of the way first (a rename is atomic), then deletes it. */
  private async evict(dir: string): Promise<void> {
    const aside = `${dir}.evicted-${process.pid}-${Date.now()}`;
    await rename(dir, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
}
