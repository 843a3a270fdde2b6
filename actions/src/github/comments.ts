/**
 * One sticky comment per pull request (or issue), found again by a hidden marker: the farm edits
 * its comment instead of adding one per run. A create that fails with a 5xx is never re-sent
 * blindly (safe-writes.ts): the comments are listed again first, so a comment GitHub stored
 * before failing is reused, not duplicated. Two runs that race to create it (farm-report's
 * concurrency group serialises them on GitHub; this holds without it) end with one comment.
 */
import type { GitHub } from "./client.ts";
import { callGitHub, type GitHubOperation } from "./errors.ts";
import { assertMarker, withMarker } from "./marker.ts";
import { createOnce, retryIdempotent, type WriteOptions } from "./safe-writes.ts";

export interface StickyCommentOptions extends WriteOptions {
  owner: string;
  repo: string;
  /** The pull request or issue number (PR comments go through the issues API). */
  issueNumber: number;
  /** A hidden HTML comment naming the comment's purpose, e.g. `<!-- pte-farm:bench -->`. */
  marker: string;
  body: string;
}

export interface StickyCommentResult {
  id: number;
  /** The comment's page on github.com. */
  url: string;
  action: "created" | "updated" | "unchanged";
}

interface Comment {
  id: number;
  html_url: string;
  body?: string;
}

const WRITE_PERMISSION = "issues: write (or pull-requests: write for a pull request)";

/** The oldest comment on the issue whose body carries `marker`, if any (pages until found). */
export async function findMarkedComment(
  gh: GitHub,
  where: { owner: string; repo: string; issueNumber: number; marker: string },
): Promise<Comment | undefined> {
  const { owner, repo, issueNumber, marker } = where;
  const operation = {
    action: `list the comments of ${owner}/${repo}#${issueNumber}`,
    permission: "issues: read",
  };
  return callGitHub(operation, async () => {
    const pages = gh.paginate.iterator(gh.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    for await (const page of pages) {
      const found = page.data.find((c) => c.body?.includes(marker));
      if (found) return found;
    }
    return undefined;
  });
}

/** Creates the marked comment, or updates it; leaves it alone when it already says `body`. */
export async function upsertStickyComment(
  gh: GitHub,
  options: StickyCommentOptions,
): Promise<StickyCommentResult> {
  assertMarker(options.marker);
  const { owner, repo, issueNumber, logger } = options;
  const body = withMarker(options.body, options.marker);
  const existing = await findMarkedComment(gh, options);
  if (existing) return update(gh, options, existing, body);

  const operation = {
    action: `create the comment on ${owner}/${repo}#${issueNumber}`,
    permission: WRITE_PERMISSION,
  };
  const { value, recovered } = await createOnce<Comment>(
    operation,
    {
      create: async () =>
        (await gh.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body })).data,
      find: () => findMarkedComment(gh, options),
    },
    options,
  );
  if (recovered && value.body !== body)
    return { ...(await update(gh, options, value, body)), action: "created" };
  // Two runs for one PR may both have found no comment and both created one. The oldest marked
  // comment is the sticky one: a run whose comment is not it deletes its own and writes the oldest.
  const sticky = await findMarkedComment(gh, options);
  if (sticky !== undefined && sticky.id !== value.id) {
    const operation: GitHubOperation = {
      action: `delete duplicate comment ${value.id} on ${owner}/${repo}#${issueNumber}`,
      permission: WRITE_PERMISSION,
    };
    await retryIdempotent(
      operation,
      () => gh.rest.issues.deleteComment({ owner, repo, comment_id: value.id }),
      options,
    );
    logger.info(
      `another run created the comment first; removed ours (${value.id}) and wrote ${sticky.html_url}`,
    );
    return update(gh, options, sticky, body);
  }
  logger.info(`created comment ${value.html_url}`);
  return { id: value.id, url: value.html_url, action: "created" };
}

async function update(
  gh: GitHub,
  options: StickyCommentOptions,
  existing: Comment,
  body: string,
): Promise<StickyCommentResult> {
  const { owner, repo, logger } = options;
  if (existing.body === body) {
    logger.info(`comment ${existing.html_url} is already up to date`);
    return { id: existing.id, url: existing.html_url, action: "unchanged" };
  }
  const operation: GitHubOperation = {
    action: `update comment ${existing.id} on ${owner}/${repo}#${options.issueNumber}`,
    permission: WRITE_PERMISSION,
  };
  const { data } = await retryIdempotent(
    operation,
    () => gh.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body }),
    options,
  );
  logger.info(`updated comment ${data.html_url}`);
  return { id: data.id, url: data.html_url, action: "updated" };
}
