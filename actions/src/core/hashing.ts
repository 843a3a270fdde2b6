/**
 * sha256 of files, folders and canonical JSON — the currency of the build cache and of artefact
 * verification. Canonical JSON sorts object keys, so the same spec always hashes the same.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";

export function sha256Text(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Streams the file, so multi-GB `.pte`/`.pt2` files do not land in memory. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** JSON with object keys sorted at every level; `undefined` members are dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** Every regular file under `root` (recursively), as sorted `/`-separated relative paths. */
export async function listFiles(
  root: string,
  keep: (rel: string) => boolean = () => true,
): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .filter(keep)
    .sort();
}

/**
 * One hash over a folder's files: each relative path and its content hash, in sorted order. A
 * renamed file changes it as much as an edited one.
 */
export async function sha256Tree(root: string, keep?: (rel: string) => boolean): Promise<string> {
  const files = await listFiles(root, keep);
  const lines: string[] = [];
  for (const rel of files) lines.push(`${rel}\0${await sha256File(path.join(root, rel))}`);
  return sha256Text(lines.join("\n"));
}
