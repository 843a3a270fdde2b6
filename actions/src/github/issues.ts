/**
 * Nightly regression issues: one open issue per regressed cell × metric, found again by a hidden
 * marker in its body (and the farm's labels, which narrow the listing), updated while the
 * regression lasts and closed with a note when it recovers.
 *
 * When is a still-open regression worth a notification? Editing the body notifies nobody, so the
 * body always carries the latest numbers. A comment notifies every subscriber, so it is posted only
 * when the caller passes a `note`: the caller knows what changed materially (the regression got
 * worse, moved to another commit range), this module does not.
 *
 * A regression that comes back after its issue was closed opens a new issue (a new episode with
 * its own history), instead of reopening the old one.
 *
 * Duplicates: a create that fails with a 5xx is never re-sent before looking again
 * (safe-writes.ts). Two concurrent syncs can both find nothing and both create; after creating,
 * the issues are listed again and the newer duplicate is closed as a duplicate of the older. That
 * is best-effort: GitHub's lists can lag a write by a moment.
 */
import { type Logger, silentLogger } from "../core/logger.ts";
import type { GitHub } from "./client.ts";
import { callGitHub, type GitHubOperation } from "./errors.ts";
import { assertMarker, withMarker } from "./marker.ts";
import { createOnce, retryIdempotent } from "./safe-writes.ts";

export interface MarkedIssue {
  number: number;
  title: string;
  body?: string | null;
  html_url: string;
  state: string;
}

export interface FindIssueOptions {
  owner: string;
  repo: string;
  marker: string;
  /** Only issues carrying all these labels are listed (GitHub filters; fewer pages to read). */
  labels?: readonly string[];
  /** Default "open". */
  state?: "open" | "closed" | "all";
}

export interface SyncRegressionIssueOptions {
  owner: string;
  repo: string;
  /** Identifies the cell × metric, e.g. `<!-- pte-farm:regression tiny-llama/fp32/...:decode_tokens_per_sec -->`. */
  marker: string;
  title: string;
  body: string;
  /** Set when the issue is created, and used to find it again. */
  labels: readonly string[];
  state: "regressed" | "recovered";
  /** A comment to post: on a recovered issue before closing it, on an open one when something material changed. */
  note?: string;
  logger?: Logger;
  /** Wait after a failed write before looking again (safe-writes.ts). Default 2000 ms; tests pass 0. */
  settleMs?: number;
}

export interface SyncResult {
  action: "created" | "updated" | "commented" | "closed" | "none";
  number?: number;
}

const PERMISSION = "issues: write";

/** The oldest issue (not pull request) whose body carries `marker`. */
export async function findIssueByMarker(
  gh: GitHub,
  options: FindIssueOptions,
): Promise<MarkedIssue | undefined> {
  return (await listMarkedIssues(gh, options, true))[0];
}

/** Every issue (not pull request) whose body contains `marker` (a whole marker, or a prefix of a family of them), oldest first. */
export async function listIssuesWithMarker(gh: GitHub, options: FindIssueOptions): Promise<MarkedIssue[]> {
  return listMarkedIssues(gh, options, false);
}

async function listMarkedIssues(
  gh: GitHub,
  options: FindIssueOptions,
  firstOnly: boolean,
): Promise<MarkedIssue[]> {
  const { owner, repo, marker, labels = [] } = options;
  const operation = { action: `list the issues of ${owner}/${repo}`, permission: "issues: read" };
  return callGitHub(operation, async () => {
    const found: MarkedIssue[] = [];
    const pages = gh.paginate.iterator(gh.rest.issues.listForRepo, {
      owner,
      repo,
      state: options.state ?? "open",
      ...(labels.length > 0 ? { labels: labels.join(",") } : {}),
      sort: "created",
      direction: "asc",
      per_page: 100,
    });
    for await (const page of pages) {
      for (const issue of page.data) {
        if (issue.pull_request === undefined && issue.body?.includes(marker)) found.push(issue);
        if (firstOnly && found.length > 0) return found;
      }
    }
    return found;
  });
}

export async function syncRegressionIssue(
  gh: GitHub,
  options: SyncRegressionIssueOptions,
): Promise<SyncResult> {
  assertMarker(options.marker);
  const open = await findIssueByMarker(gh, openIssues(options));
  if (options.state === "recovered") return open ? close(gh, options, open) : { action: "none" };
  return open ? refresh(gh, options, open) : create(gh, options);
}

async function create(gh: GitHub, options: SyncRegressionIssueOptions): Promise<SyncResult> {
  const { owner, repo, title, labels } = options;
  const logger = options.logger ?? silentLogger;
  const body = withMarker(options.body, options.marker);
  const operation = {
    action: `open the regression issue "${title}" in ${owner}/${repo}`,
    permission: PERMISSION,
  };
  const { value: issue } = await createOnce<MarkedIssue>(
    operation,
    {
      create: async () =>
        (await gh.rest.issues.create({ owner, repo, title, body, labels: [...labels] })).data,
      find: () => findIssueByMarker(gh, openIssues(options)),
    },
    writeOptions(options),
  );
  const all = await listMarkedIssues(gh, openIssues(options), false);
  const oldest = all.reduce((a, b) => (b.number < a.number ? b : a), issue);
  if (oldest.number === issue.number) {
    logger.info(`opened regression issue ${issue.html_url}`);
    return { action: "created", number: issue.number };
  }
  logger.warn(
    `#${issue.number} duplicates #${oldest.number} (opened concurrently); closing #${issue.number}`,
  );
  await retryIdempotent(
    { action: `close duplicate issue #${issue.number}`, permission: PERMISSION },
    () =>
      gh.rest.issues.update({
        owner,
        repo,
        issue_number: issue.number,
        state: "closed",
        state_reason: "duplicate",
      }),
    writeOptions(options),
  );
  return refresh(gh, options, oldest);
}

async function refresh(
  gh: GitHub,
  options: SyncRegressionIssueOptions,
  issue: MarkedIssue,
): Promise<SyncResult> {
  const { owner, repo, title } = options;
  const body = withMarker(options.body, options.marker);
  let action: SyncResult["action"] = "none";
  if (issue.body !== body || issue.title !== title) {
    await retryIdempotent(
      { action: `update regression issue #${issue.number}`, permission: PERMISSION },
      () => gh.rest.issues.update({ owner, repo, issue_number: issue.number, title, body }),
      writeOptions(options),
    );
    action = "updated";
  }
  if (options.note !== undefined) {
    await comment(gh, options, issue.number, options.note);
    action = "commented";
  }
  return { action, number: issue.number };
}

async function close(
  gh: GitHub,
  options: SyncRegressionIssueOptions,
  issue: MarkedIssue,
): Promise<SyncResult> {
  const { owner, repo } = options;
  const note = options.note ?? "The regression is gone in the latest nightly run; closing.";
  await comment(gh, options, issue.number, note);
  await retryIdempotent(
    { action: `close regression issue #${issue.number}`, permission: PERMISSION },
    () =>
      gh.rest.issues.update({
        owner,
        repo,
        issue_number: issue.number,
        state: "closed",
        state_reason: "completed",
      }),
    writeOptions(options),
  );
  (options.logger ?? silentLogger).info(`closed regression issue ${issue.html_url}`);
  return { action: "closed", number: issue.number };
}

/**
 * Posts `body` as a comment. After a 5xx it counts as posted if the newest comment already says
 * exactly `body` (then either the failed attempt landed, or the previous run said the same).
 */
async function comment(
  gh: GitHub,
  options: SyncRegressionIssueOptions,
  number: number,
  body: string,
): Promise<void> {
  const { owner, repo } = options;
  const operation: GitHubOperation = { action: `comment on issue #${number}`, permission: PERMISSION };
  await createOnce(
    operation,
    {
      create: async () =>
        (await gh.rest.issues.createComment({ owner, repo, issue_number: number, body })).data.id,
      find: async () => {
        const comments = await callGitHub({ ...operation, action: `list the comments of #${number}` }, () =>
          gh.paginate(gh.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 }),
        );
        const newest = comments.at(-1);
        return newest?.body === body ? newest.id : undefined;
      },
    },
    writeOptions(options),
  );
}

/** The open issues carrying this sync's marker and labels. */
function openIssues(options: SyncRegressionIssueOptions): FindIssueOptions {
  const { owner, repo, marker, labels } = options;
  return { owner, repo, marker, labels, state: "open" };
}

function writeOptions(options: SyncRegressionIssueOptions) {
  return {
    logger: options.logger ?? silentLogger,
    ...(options.settleMs !== undefined ? { settleMs: options.settleMs } : {}),
  };
}
