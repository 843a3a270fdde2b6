/**
 * Reading files of a hostile artefact (publish/ingest.ts, release/artifacts.ts): bounded in
 * entries, files and bytes ({@link ARTIFACT_LIMITS}), never following a link, and parsing JSON
 * without letting a `__proto__` key through.
 */
import { constants } from "node:fs";
import { lstat, open, opendir, realpath } from "node:fs/promises";
import path from "node:path";

/**
 * Bounds on what is read. A real artefact is far below each: a run record is ~5-50 kB, a PR runs
 * at most a few hundred cells (one record and one comparison each, plus base records).
 */
export const ARTIFACT_LIMITS = {
  /** Directory entries looked at, in all folders together: bounds the walk itself. */
  maxEntries: 4096,
  /** Files read. */
  maxFiles: 2048,
  /** One file: a record with long token lists and per-rep telemetry stays well under this. */
  maxFileBytes: 2 * 1024 * 1024,
  /** All files read together. */
  maxTotalBytes: 64 * 1024 * 1024,
};
export type ArtifactLimits = typeof ARTIFACT_LIMITS;

export interface Rejected {
  /** Path inside the artefact, with anything but `[A-Za-z0-9._@+=/-]` shown as `?`. */
  file: string;
  reason: string;
}

/** A path safe to show anywhere (logs, a check run): no control, markdown or HTML characters. */
export function shownPath(p: string): string {
  const s = p.replace(/[^A-Za-z0-9._@+=/-]/g, "?");
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * JSON.parse that refuses `__proto__` keys: the validators copy keys into fresh objects, and such a
 * key would replace the copy's prototype instead of adding a field.
 */
export function parseHostileJson(text: string): unknown {
  return JSON.parse(text, (key, value) => {
    if (key === "__proto__") throw new SyntaxError('a "__proto__" key is not allowed');
    return value;
  });
}

export interface Found {
  rel: string;
  abs: string;
  size: number;
}

/** Thrown inside the walk when a limit makes the whole artefact untrustworthy. */
export class LimitError extends Error {}

export class Walk {
  entries = 0;
  readonly files: Found[] = [];
  readonly rejected: Rejected[] = [];
  total = 0;
  readonly root: string;
  readonly limits: ArtifactLimits;

  constructor(root: string, limits: ArtifactLimits) {
    this.root = root;
    this.limits = limits;
  }

  reject(rel: string, reason: string): void {
    this.rejected.push({ file: shownPath(rel), reason });
  }

  /** Lists one folder, checking every entry with lstat; `visit` decides what to do with each. */
  async folder(rel: string, visit: (name: string, rel: string, abs: string) => Promise<void>): Promise<void> {
    const dir = await opendir(path.join(this.root, rel));
    for await (const entry of dir) {
      if (++this.entries > this.limits.maxEntries) {
        throw new LimitError(`more than ${this.limits.maxEntries} entries`);
      }
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      await visit(entry.name, childRel, path.join(this.root, childRel));
    }
  }

  /** Accepts a regular, singly linked file inside the root, within the per-file and total limits. */
  async file(rel: string, abs: string): Promise<void> {
    const info = await lstat(abs);
    if (info.isSymbolicLink()) return this.reject(rel, "a symbolic link (links are never followed)");
    if (!info.isFile()) return this.reject(rel, "not a regular file");
    if (info.nlink > 1) return this.reject(rel, "a hard link (links are never followed)");
    const real = await realpath(abs);
    const inside = path.relative(this.root, real);
    if (inside.startsWith("..") || path.isAbsolute(inside)) {
      return this.reject(rel, "resolves outside the artefact folder");
    }
    if (info.size > this.limits.maxFileBytes) {
      return this.reject(rel, `${info.size} bytes, over the ${this.limits.maxFileBytes}-byte limit per file`);
    }
    if (this.files.length + 1 > this.limits.maxFiles)
      throw new LimitError(`more than ${this.limits.maxFiles} files`);
    this.total += info.size;
    if (this.total > this.limits.maxTotalBytes) {
      throw new LimitError(`more than ${this.limits.maxTotalBytes} bytes in total`);
    }
    this.files.push({ rel, abs, size: info.size });
  }
}

/** Reads a file found by the walk, again without following links, and never past the limit. */
export async function readBounded(abs: string, limit: number): Promise<string> {
  const handle = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.nlink > 1) throw new Error("changed into something other than a plain file");
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > limit) throw new Error(`grew past the ${limit}-byte limit while being read`);
    return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
  } finally {
    await handle.close();
  }
}
