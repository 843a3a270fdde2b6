/**
 * One GitHub release per tag, drafted first and published last, so nobody downloads a release
 * whose files are still uploading or failed verification (release-assets.ts).
 *
 * GitHub allows several drafts with the same tag and hides drafts from `get-release-by-tag`, so a
 * rerun that looked the tag up that way would add a second draft every time: the release is found
 * by listing, drafts included. A published release is never touched: its files may already have
 * been downloaded and attested, so changing them would break every copy out there.
 */
import { ConfigurationError } from "../core/errors.ts";
import type { GitHub } from "./client.ts";
import { callGitHub, type GitHubOperation } from "./errors.ts";
import { createOnce, retryIdempotent, type WriteOptions } from "./safe-writes.ts";

/** The fields of GitHub's `release` object the farm reads. */
export interface Release {
  id: number;
  tag_name: string;
  name: string | null;
  body?: string | null;
  draft: boolean;
  prerelease: boolean;
  published_at: string | null;
  html_url: string;
  /** Where assets are uploaded (uploads.github.com on github.com), an RFC 6570 template. */
  upload_url: string;
  target_commitish: string;
}

export interface RepoRef {
  owner: string;
  repo: string;
}

/** Listing drafts needs push access: a read-only token sees only published releases. */
export const RELEASE_PERMISSION = "contents: write";

/**
 * The release of `tag`, drafts included (null when there is none). A published release wins
 * over drafts of the same tag; among drafts alone, the oldest (the one earlier runs reused).
 */
export async function findReleaseByTag(
  gh: GitHub,
  where: RepoRef & { tag: string },
): Promise<Release | null> {
  const { owner, repo, tag } = where;
  const operation = { action: `list the releases of ${owner}/${repo}`, permission: RELEASE_PERMISSION };
  const matching = await callGitHub(operation, async () => {
    const found: Release[] = [];
    const pages = gh.paginate.iterator(gh.rest.repos.listReleases, { owner, repo, per_page: 100 });
    for await (const page of pages) found.push(...(page.data as Release[]).filter((r) => r.tag_name === tag));
    return found;
  });
  return matching.find((r) => !r.draft) ?? matching.sort((a, b) => a.id - b.id)[0] ?? null;
}

export interface DraftReleaseOptions extends RepoRef, WriteOptions {
  tag: string;
  name: string;
  /** The release notes (markdown). */
  body: string;
  /** Branch or commit the tag is created from on publishing, if the tag does not exist yet. */
  targetCommitish: string;
}

export interface DraftReleaseResult {
  release: Release;
  action: "created" | "updated" | "unchanged";
}

/**
 * The draft release of `tag`: the existing draft (name, body and target brought up to date) or a
 * new one. Throws a ConfigurationError when `tag` already has a published release.
 */
export async function ensureDraftRelease(
  gh: GitHub,
  options: DraftReleaseOptions,
): Promise<DraftReleaseResult> {
  const { owner, repo, tag, logger } = options;
  const existing = await findReleaseByTag(gh, options);
  if (existing && !existing.draft) throw publishedAlready(options, existing);
  if (existing) return updateDraft(gh, options, existing);

  const operation: GitHubOperation = {
    action: `create the draft release ${tag} of ${owner}/${repo}`,
    permission: RELEASE_PERMISSION,
  };
  const { value, recovered } = await createOnce<Release>(
    operation,
    {
      create: async () =>
        (
          await gh.rest.repos.createRelease({
            owner,
            repo,
            tag_name: tag,
            name: options.name,
            body: options.body,
            target_commitish: options.targetCommitish,
            draft: true,
          })
        ).data as Release,
      find: async () => {
        const found = await findReleaseByTag(gh, options);
        if (found && !found.draft) throw publishedAlready(options, found);
        return found ?? undefined;
      },
    },
    options,
  );
  if (recovered) return { ...(await updateDraft(gh, options, value)), action: "created" };
  logger.info(`created draft release ${tag}: ${value.html_url}`);
  return { release: value, action: "created" };
}

async function updateDraft(
  gh: GitHub,
  options: DraftReleaseOptions,
  draft: Release,
): Promise<DraftReleaseResult> {
  const { owner, repo, tag, logger } = options;
  const same =
    draft.name === options.name &&
    (draft.body ?? "") === options.body &&
    draft.target_commitish === options.targetCommitish;
  if (same) {
    logger.info(`reusing draft release ${tag} (${draft.html_url})`);
    return { release: draft, action: "unchanged" };
  }
  const operation: GitHubOperation = {
    action: `update the draft release ${tag} of ${owner}/${repo}`,
    permission: RELEASE_PERMISSION,
  };
  const { data } = await retryIdempotent(
    operation,
    () =>
      gh.rest.repos.updateRelease({
        owner,
        repo,
        release_id: draft.id,
        name: options.name,
        body: options.body,
        target_commitish: options.targetCommitish,
      }),
    options,
  );
  logger.info(`updated draft release ${tag} (${data.html_url})`);
  return { release: data as Release, action: "updated" };
}

function publishedAlready(where: RepoRef & { tag: string }, release: Release): ConfigurationError {
  return new ConfigurationError(
    `The tag ${where.tag} of ${where.owner}/${where.repo} already has a published release ` +
      `(${release.html_url}); the farm never changes a published release. Release under a new tag, ` +
      "or turn that release back into a draft (or delete it) on GitHub first.",
  );
}

export interface PublishOptions extends RepoRef, WriteOptions {
  release: Release;
  /** Whether GitHub marks it as the repository's latest release (GitHub's default: true). */
  makeLatest?: boolean;
}

/** Turns the draft into a published release (a no-op for one already published). */
export async function publishRelease(gh: GitHub, options: PublishOptions): Promise<Release> {
  const { owner, repo, release, logger } = options;
  if (!release.draft) return release;
  const operation: GitHubOperation = {
    action: `publish the release ${release.tag_name} of ${owner}/${repo}`,
    permission: RELEASE_PERMISSION,
  };
  // Setting draft=false twice is harmless, so a PATCH lost to a 5xx is simply sent again.
  const publish = () =>
    gh.rest.repos.updateRelease({
      owner,
      repo,
      release_id: release.id,
      draft: false,
      ...(options.makeLatest !== undefined ? { make_latest: options.makeLatest ? "true" : "false" } : {}),
    });
  const { data } = await retryIdempotent(operation, publish, options).catch(async (error: unknown) => {
    // 422: someone published another release of this tag since the draft was made.
    const other = await findReleaseByTag(gh, { owner, repo, tag: release.tag_name }).catch(() => null);
    if (other && !other.draft && other.id !== release.id) {
      throw publishedAlready({ owner, repo, tag: release.tag_name }, other);
    }
    throw error;
  });
  logger.info(`published release ${data.tag_name}: ${data.html_url}`);
  return data as Release;
}

/** Used by release-assets.ts for the messages. */
export function describeRelease(where: RepoRef, release: Release): string {
  return `release ${release.tag_name} (id ${release.id}) of ${where.owner}/${where.repo}`;
}
