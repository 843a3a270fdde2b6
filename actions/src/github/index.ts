/**
 * The farm's GitHub client and the publishing it does: a sticky PR comment, a check run, nightly
 * regression issues, draft releases and their verified assets. Domain code receives a {@link GitHub} from its caller (an action's entry, or
 * a test pointing it at the local server) and never builds one itself.
 */
export {
  type CheckAnnotation,
  type CheckConclusion,
  type CheckRunOptions,
  type CheckRunResult,
  publishCheckRun,
} from "./checks.ts";
export { createGitHub, type GitHub, type GitHubClientOptions } from "./client.ts";
export {
  findMarkedComment,
  type StickyCommentOptions,
  type StickyCommentResult,
  upsertStickyComment,
} from "./comments.ts";
export { callGitHub, explainGitHubError, type GitHubOperation } from "./errors.ts";
export {
  type FindIssueOptions,
  findIssueByMarker,
  type MarkedIssue,
  type SyncRegressionIssueOptions,
  type SyncResult,
  syncRegressionIssue,
} from "./issues.ts";
export {
  assetProblem,
  deleteReleaseAsset,
  type ExpectedFile,
  GITHUB_ASSET_LIMIT,
  listReleaseAssets,
  type ReleaseAsset,
  ReleaseAssetMismatchError,
  type UploadAssetOptions,
  uploadReleaseAsset,
  verifyReleaseAsset,
} from "./release-assets.ts";
export {
  type Digest,
  type DownloadOptions,
  downloadReleaseAsset,
  HashTap,
  hashReleaseAsset,
  openReleaseAsset,
} from "./release-download.ts";
export {
  type DraftReleaseOptions,
  type DraftReleaseResult,
  ensureDraftRelease,
  findReleaseByTag,
  type PublishOptions,
  publishRelease,
  type Release,
  type RepoRef,
} from "./releases.ts";
