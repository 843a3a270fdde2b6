/**
 * The git plumbing the data branch reads and writes objects with, batched: one `git` process per
 * batch of files, not one per file (a night of a big farm, or a compaction, is thousands of them).
 * `where` names the store in errors.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { InfrastructureError } from "../core/errors.ts";

/** Runs git in `repo` and returns its trimmed stdout; a failure is infrastructure naming the store. */
export async function git(
  repo: string,
  where: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<string> {
  const res = await execa("git", args, {
    cwd: repo,
    reject: false,
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
  if (res.exitCode !== 0)
    throw new InfrastructureError(`history ${where}: git ${args[0]} failed: ${res.stderr.trim()}`);
  return res.stdout.trim();
}

/** Writes the texts as blobs with one `git hash-object --stdin-paths`; their ids, in order. */
export async function writeBlobs(repo: string, where: string, texts: readonly string[]): Promise<string[]> {
  if (texts.length === 0) return [];
  const dir = await mkdtemp(path.join(os.tmpdir(), "pte-farm-blobs-"));
  try {
    const files = texts.map((_, i) => path.join(dir, `${i}`));
    await Promise.all(texts.map((t, i) => writeFile(files[i] as string, t)));
    const out = await git(repo, where, ["hash-object", "-w", "--no-filters", "--stdin-paths"], {
      input: `${files.join("\n")}\n`,
    });
    const ids = out.split("\n");
    if (ids.length !== texts.length) {
      throw new InfrastructureError(
        `history ${where}: git hash-object wrote ${ids.length} of ${texts.length} blob(s)`,
      );
    }
    return ids;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file of the commit `tip` (under `prefix`), with its blob id. */
export async function lsTree(
  repo: string,
  where: string,
  tip: string,
  prefix: string | null,
): Promise<{ name: string; blob: string }[]> {
  const out = await git(repo, where, [
    "ls-tree",
    "-r",
    tip,
    ...(prefix === null ? [] : ["--", `${prefix}/`]),
  ]);
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const tab = l.indexOf("\t");
      return { name: l.slice(tab + 1), blob: l.slice(0, tab).split(" ")[2] ?? "" };
    });
}

/** The blobs' texts, read by one `git cat-file --batch`. */
export async function readBlobs(repo: string, where: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const res = await execa("git", ["cat-file", "--batch"], {
    cwd: repo,
    input: `${ids.join("\n")}\n`,
    encoding: "buffer",
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new InfrastructureError(
      `history ${where}: git cat-file failed: ${Buffer.from(res.stderr).toString()}`,
    );
  }
  const buf = Buffer.from(res.stdout);
  const out: string[] = [];
  let at = 0;
  for (const id of ids) {
    const eol = buf.indexOf(10, at);
    const header = buf.subarray(at, eol).toString("utf8").split(" ");
    if (header[0] !== id || header[1] !== "blob")
      throw new InfrastructureError(`history ${where}: git cat-file: no blob ${id}`);
    const size = Number(header[2]);
    out.push(buf.subarray(eol + 1, eol + 1 + size).toString("utf8"));
    at = eol + 1 + size + 1;
  }
  return out;
}
