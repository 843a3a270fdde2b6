/**
 * History on a data branch (default `pte-farm-data`) of a git repository: the farm's store in CI.
 *
 * An append is one commit that adds the record files on top of the branch tip, built with
 * plumbing in a throwaway index (`GIT_INDEX_FILE`), so no work tree or checkout is touched and
 * the user's own index is never disturbed. Publishing it is a compare-and-swap:
 * - with a remote (`origin`): `git push` of the new commit, which the remote rejects unless it
 *   fast-forwards the tip we built on;
 * - without one: `git update-ref <branch> <new> <old>`, which fails unless the tip is still `<old>`.
 * A lost race is retried on top of the new tip, with jittered exponential backoff, so concurrent
 * writers never lose a record: each attempt re-reads the tip and keeps every file already there.
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { BisectRecord } from "../bisect/record.ts";
import { InfrastructureError } from "../core/errors.ts";
import type { HealthReport } from "../schemas/health-report.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { git, lsTree, readBlobs, writeBlobs } from "./git-objects.ts";
import { isLayoutFile, isMonthFile, monthLine, monthPath, monthText, readLayoutFile } from "./layout.ts";
import {
  BISECT_DIR,
  bisectByTime,
  bisectPath,
  byTime,
  cellPrefix,
  cellsOfPaths,
  type HistoryStore,
  healthByTime,
  healthPath,
  healthPrefix,
  isAnnexPath,
  queryListed,
  type RecordQuery,
  readStoredBisect,
  readStoredHealth,
  recordPath,
  type StoredBisect,
  type StoredHealth,
  type StoredRecord,
  serialize,
  serializeBisect,
  serializeHealth,
  storedFiles,
  uniqueById,
} from "./store.ts";

const ZERO = "0".repeat(40);
// Commits are made by the farm, not a person: a fixed identity keeps them independent of git config.
const IDENTITY = {
  GIT_AUTHOR_NAME: "pte-farm",
  GIT_AUTHOR_EMAIL: "pte-farm@users.noreply.github.com",
  GIT_COMMITTER_NAME: "pte-farm",
  GIT_COMMITTER_EMAIL: "pte-farm@users.noreply.github.com",
};

export interface GitBranchOptions {
  branch?: string;
  /** Attempts before giving up on a contended branch (default 30). */
  maxAttempts?: number;
  /** First backoff in ms; doubles per attempt up to 2 s, with full jitter (default 20). */
  backoffMs?: number;
}

export interface CompactResult {
  /** Record files folded into month files. */
  folded: number;
  /** Month files written (new or grown). */
  months: number;
  /** Records on the branch afterwards. */
  records: number;
  /** The new root commit, or null when there was nothing to fold. */
  commit: string | null;
}

export class GitBranchStore implements HistoryStore {
  readonly repo: string;
  readonly branch: string;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;

  constructor(repo: string, opts: GitBranchOptions = {}) {
    this.repo = path.resolve(repo);
    this.branch = opts.branch ?? "pte-farm-data";
    this.maxAttempts = opts.maxAttempts ?? 30;
    this.backoffMs = opts.backoffMs ?? 20;
  }

  describe(): string {
    return `git:${this.repo}#${this.branch}`;
  }

  private async git(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
    return execa("git", args, {
      cwd: this.repo,
      reject: false,
      env: { ...IDENTITY, ...opts.env },
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
  }

  private async must(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
    return git(this.repo, this.describe(), args, { ...opts, env: { ...IDENTITY, ...opts.env } });
  }

  private async hasRemote(): Promise<boolean> {
    return (await this.git(["remote", "get-url", "origin"])).exitCode === 0;
  }

  /** The tip to build on: the remote's branch when there is a remote (fetched now), else the local one. */
  private async tip(remote: boolean): Promise<string | null> {
    if (remote) {
      const ref = `refs/pte-farm/origin-${this.branch}`;
      const res = await this.git([
        "fetch",
        "--quiet",
        "--no-tags",
        "origin",
        `+refs/heads/${this.branch}:${ref}`,
      ]);
      if (res.exitCode !== 0) {
        if (/couldn't find remote ref/i.test(res.stderr)) return null;
        throw new InfrastructureError(`history ${this.describe()}: git fetch failed: ${res.stderr.trim()}`);
      }
      return this.must(["rev-parse", ref]);
    }
    const res = await this.git(["rev-parse", "--verify", "--quiet", `refs/heads/${this.branch}`]);
    return res.exitCode === 0 ? res.stdout.trim() : null;
  }

  async append(records: readonly RunRecord[]): Promise<string[]> {
    return this.commitFiles(storedFiles(records, serialize, recordPath), `${records.length} run record(s)`);
  }

  async appendHealth(reports: readonly HealthReport[]): Promise<string[]> {
    return this.commitFiles(
      storedFiles(reports, serializeHealth, healthPath),
      `${reports.length} health report(s)`,
    );
  }

  async appendBisects(records: readonly BisectRecord[]): Promise<string[]> {
    return this.commitFiles(
      storedFiles(records, serializeBisect, bisectPath),
      `${records.length} bisect record(s)`,
    );
  }

  /** One commit adding `files`, published with compare-and-swap and retried as the module doc says. */
  private async commitFiles(
    texts: readonly { path: string; text: string }[],
    what: string,
  ): Promise<string[]> {
    if (texts.length === 0) return [];
    const blobs = await writeBlobs(
      this.repo,
      this.describe(),
      texts.map((f) => f.text),
    );
    const files = texts.map((f, i) => ({ path: f.path, blob: blobs[i] ?? "" }));
    const remote = await this.hasRemote();
    for (let attempt = 1; ; attempt++) {
      const parent = await this.tip(remote);
      const commit = await this.commitOn(parent, files, what);
      if (await this.publish(remote, commit, parent)) return files.map((f) => f.path);
      await this.backoff(attempt);
    }
  }

  /** A commit whose tree is `parent`'s plus `files`, built in a private index. */
  private async commitOn(
    parent: string | null,
    files: { path: string; blob: string }[],
    what: string,
  ): Promise<string> {
    const msg = `history: append ${what}\n\n${files.map((f) => f.path).join("\n")}\n`;
    return this.commitTree({
      tree: parent,
      parents: parent === null ? [] : [parent],
      add: files,
      remove: [],
      msg,
    });
  }

  /** A commit of `tree`'s files (none when null) less `remove` plus `add`, built in a private index. */
  private async commitTree(o: {
    tree: string | null;
    parents: string[];
    add: readonly { path: string; blob: string }[];
    remove: readonly string[];
    msg: string;
  }): Promise<string> {
    const index = path.join(os.tmpdir(), `pte-farm-index-${process.pid}-${randomBytes(6).toString("hex")}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      await this.must(o.tree === null ? ["read-tree", "--empty"] : ["read-tree", o.tree], { env });
      const info = [
        ...o.remove.map((p) => `0 ${ZERO}\t${p}\n`),
        ...o.add.map((f) => `100644 ${f.blob}\t${f.path}\n`),
      ].join("");
      await this.must(["update-index", "--add", "--index-info"], { env, input: info });
      const tree = await this.must(["write-tree"], { env });
      return await this.must(["commit-tree", tree, ...o.parents.flatMap((p) => ["-p", p]), "-m", o.msg]);
    } finally {
      await rm(index, { force: true });
    }
  }

  /**
   * Folds each record file of a month before `before` (default: the month of the newest record,
   * which stays as files while it is being written) into its cell's month file (layout.ts), and
   * publishes the result as a new root commit: the branch's old commits become unreachable, so
   * `git gc` (GitHub's included) drops their objects and the data branch's size follows the data,
   * not the number of appends. Records keep their own time, commit and session; the branch's git
   * log was never the history. Published with the same compare-and-swap as an append (a lease on
   * the tip read), so a writer racing it retries on top of the compacted tip and loses nothing.
   */
  async compact(opts: { before?: string } = {}): Promise<CompactResult> {
    const remote = await this.hasRemote();
    for (let attempt = 1; ; attempt++) {
      const tip = await this.tip(remote);
      if (tip === null) return { folded: 0, months: 0, records: 0, commit: null };
      const plan = await this.compactPlan(tip, opts.before);
      if (plan.remove.length === 0) return { folded: 0, months: 0, records: plan.records, commit: null };
      const blobs = await writeBlobs(this.repo, this.describe(), [...plan.months.values()]);
      const add = [...plan.months.keys()].map((file, i) => ({ path: file, blob: blobs[i] ?? "" }));
      const msg = `history: compacted ${plan.remove.length} record file(s) into ${add.length} month file(s); ${plan.records} record(s)\n`;
      const commit = await this.commitTree({ tree: tip, parents: [], add, remove: plan.remove, msg });
      if (await this.publish(remote, commit, tip, true)) {
        return { folded: plan.remove.length, months: add.length, records: plan.records, commit };
      }
      await this.backoff(attempt);
    }
  }

  /** What compaction of `tip` removes and writes. */
  private async compactPlan(tip: string, before: string | undefined) {
    const entries = (await lsTree(this.repo, this.describe(), tip, null)).filter(
      (e) => isLayoutFile(e.name) && !isAnnexPath(e.name),
    );
    const texts = await readBlobs(
      this.repo,
      this.describe(),
      entries.map((e) => e.blob),
    );
    const held = entries.flatMap((e, i) =>
      readLayoutFile(e.name, texts[i] ?? "", this.describe()).map((s) => ({
        file: e.name,
        record: s.record,
      })),
    );
    const cutoff =
      before ?? held.reduce((m, h) => (h.record.started_at > m ? h.record.started_at : m), "").slice(0, 7);
    const lines = new Map<string, string[]>();
    const touched = new Set<string>();
    const remove: string[] = [];
    for (const h of held) {
      const month = isMonthFile(h.file) ? h.file : monthPath(h.record);
      const folded = !isMonthFile(h.file) && h.record.started_at.slice(0, 7) < cutoff;
      if (!isMonthFile(h.file) && !folded) continue;
      if (folded) {
        remove.push(h.file);
        touched.add(month);
      }
      const list = lines.get(month) ?? [];
      list.push(monthLine(h.record));
      lines.set(month, list);
    }
    const months = new Map([...touched].sort().map((f) => [f, monthText(lines.get(f) ?? [])]));
    return { remove, months, records: new Set(held.map((h) => monthLine(h.record))).size };
  }

  private async backoff(attempt: number): Promise<void> {
    if (attempt >= this.maxAttempts) {
      throw new InfrastructureError(
        `history ${this.describe()}: gave up after ${attempt} attempts; the branch kept moving (or the push is refused)`,
      );
    }
    const cap = Math.min(2000, this.backoffMs * 2 ** (attempt - 1));
    await new Promise((r) => setTimeout(r, Math.random() * cap));
  }

  /** true when the commit became the branch tip; false when another writer got there first. */
  private async publish(
    remote: boolean,
    commit: string,
    parent: string | null,
    rewrite = false,
  ): Promise<boolean> {
    if (!remote) {
      const res = await this.git(["update-ref", `refs/heads/${this.branch}`, commit, parent ?? ZERO]);
      return res.exitCode === 0;
    }
    // A rewrite (compaction) is not a fast-forward: it replaces the tip only if it is still `parent`.
    const lease = rewrite ? [`--force-with-lease=refs/heads/${this.branch}:${parent ?? ""}`] : [];
    const res = await this.git([
      "push",
      "--quiet",
      ...lease,
      "origin",
      `${commit}:refs/heads/${this.branch}`,
    ]);
    if (res.exitCode === 0) {
      await this.git(["update-ref", `refs/heads/${this.branch}`, commit]);
      return true;
    }
    if (
      /rejected|fetch first|non-fast-forward|stale info|cannot lock ref|failed to update ref/i.test(
        res.stderr,
      )
    ) {
      return false;
    }
    throw new InfrastructureError(`history ${this.describe()}: git push failed: ${res.stderr.trim()}`);
  }

  /** The branch tip's layout files under `prefix` (all of them when null), with their text. */
  private async readTree(prefix: string | null): Promise<{ name: string; text: string }[]> {
    const tip = await this.tip(await this.hasRemote());
    if (tip === null) return [];
    const entries = (await lsTree(this.repo, this.describe(), tip, prefix)).filter((e) =>
      isLayoutFile(e.name),
    );
    const texts = await readBlobs(
      this.repo,
      this.describe(),
      entries.map((e) => e.blob),
    );
    return entries.map((e, i) => ({ name: e.name, text: texts[i] ?? "" }));
  }

  async list(cellId?: string): Promise<StoredRecord[]> {
    const files = await this.readTree(cellId === undefined ? null : cellPrefix(cellId));
    return uniqueById(
      files
        .filter((f) => cellId !== undefined || !isAnnexPath(f.name))
        .flatMap((f) => readLayoutFile(f.name, f.text, this.describe())),
    ).sort(byTime);
  }

  async cells(): Promise<string[]> {
    const tip = await this.tip(await this.hasRemote());
    return tip === null
      ? []
      : cellsOfPaths(
          (await lsTree(this.repo, this.describe(), tip, null)).map((e) => e.name).filter(isLayoutFile),
        );
  }

  query(q: RecordQuery = {}): AsyncIterable<StoredRecord> {
    return queryListed(this, q);
  }

  async listHealth(device?: string): Promise<StoredHealth[]> {
    const files = await this.readTree(healthPrefix(device));
    return files.map((f) => readStoredHealth(f.name, f.text, this.describe())).sort(healthByTime);
  }

  async listBisects(): Promise<StoredBisect[]> {
    const files = await this.readTree(BISECT_DIR);
    return files.map((f) => readStoredBisect(f.name, f.text, this.describe())).sort(bisectByTime);
  }
}
