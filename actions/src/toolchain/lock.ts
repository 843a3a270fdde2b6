/**
 * A toolchain lock (`pte-farm/lock@1`): the exact packages one environment holds — every name,
 * version, wheel address and sha256, as the package index's resolver (pip) chose them. A pinned
 * toolchain and a channel both end in one; every environment is keyed by its lock's id, and a plan
 * carries the locks of its channels so that every job of one run installs the same bytes.
 */
import { readFile } from "node:fs/promises";
import { ConfigurationError } from "../core/errors.ts";
import { canonicalJson, sha256Text } from "../core/hashing.ts";
import { normalize } from "../core/requirements.ts";
import { arr, type Infer, literal, nonEmptyStr, nullable, obj, parseJson, str } from "../core/validate.ts";

export const lockedPackage = obj({
  name: nonEmptyStr,
  version: nonEmptyStr,
  /** Where pip found the file (PyPI, a mirror, a local wheel); informative, not part of the id. */
  url: str,
  sha256: str,
});
export type LockedPackage = Infer<typeof lockedPackage>;

export const lockSchema = obj({
  schema: literal("pte-farm/lock@1"),
  /** The toolchain it was resolved for (`stable`, `latest`) or what a bisection made of it. */
  toolchain: nonEmptyStr,
  /** `sha256` over python, platform and the packages' `name==version sha256`, first 16 hex digits. */
  id: nonEmptyStr,
  python: nonEmptyStr,
  platform: nonEmptyStr,
  resolved_at: str,
  /** The requirement lines the resolver was given. */
  requested: arr(str),
  packages: arr(lockedPackage),
  /** Set when a bisection derived it: which package it moved, from which lock. */
  derived: nullable(obj({ from: str, moved: arr(str) })),
});
export type Lock = Infer<typeof lockSchema>;

export function lockId(python: string, platform: string, packages: readonly LockedPackage[]): string {
  const lines = [...packages]
    .map((p) => `${normalize(p.name)}==${p.version} ${p.sha256}`)
    .sort()
    .join("\n");
  return sha256Text(canonicalJson({ python, platform, lines })).slice(0, 16);
}

/** The versions of a lock by normalised name. */
export function versionsOf(lock: Pick<Lock, "packages">): Map<string, string> {
  return new Map(lock.packages.map((p) => [normalize(p.name), p.version]));
}

export function versionOf(lock: Pick<Lock, "packages">, name: string): string | null {
  return versionsOf(lock).get(normalize(name)) ?? null;
}

/** A requirements file pip installs with `--require-hashes --no-deps`: exactly the lock, nothing resolved. */
export function requirementsText(lock: Lock): string {
  return `${lock.packages.map((p) => `${p.name}==${p.version} --hash=sha256:${p.sha256}`).join("\n")}\n`;
}

export interface LockChange {
  name: string;
  from: string | null;
  to: string | null;
}

/** Packages whose versions differ between two locks (added and removed ones included), by name. */
export function diffLocks(a: Pick<Lock, "packages">, b: Pick<Lock, "packages">): LockChange[] {
  const va = versionsOf(a);
  const vb = versionsOf(b);
  const names = [...new Set([...va.keys(), ...vb.keys()])].sort();
  return names
    .map((name) => ({ name, from: va.get(name) ?? null, to: vb.get(name) ?? null }))
    .filter((c) => c.from !== c.to);
}

export function renderChange(c: LockChange): string {
  return `${c.name} ${c.from ?? "(none)"} → ${c.to ?? "(none)"}`;
}

export async function readLock(file: string): Promise<Lock> {
  const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new ConfigurationError(
      `lock ${file}: cannot read it (${e.code ?? e.message}); pass a lock.json written by \`pte-farm toolchain resolve\``,
    );
  });
  const lock = parseJson(lockSchema, text, file);
  if (lockId(lock.python, lock.platform, lock.packages) !== lock.id) {
    throw new ConfigurationError(
      `lock ${file}: its id does not match its packages (edited by hand?); resolve it again`,
    );
  }
  return lock;
}

export function lockJson(lock: Lock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** The versions a reader checks first, e.g. "torch 2.13.0+cpu, executorch 1.5.1, torchao 0.18.0". */
export function describeLock(lock: Pick<Lock, "packages">): string {
  const want = ["torch", "executorch", "torchao", "transformers", "tokenizers"];
  const versions = versionsOf(lock);
  const parts = want.filter((n) => versions.has(n)).map((n) => `${n} ${versions.get(n)}`);
  return parts.length > 0 ? parts.join(", ") : lock.packages.map((p) => `${p.name} ${p.version}`).join(", ");
}
