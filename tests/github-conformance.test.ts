/**
 * Every public function of the farm's GitHub client, run once against GitHub's OpenAPI
 * description (local server): each request must be an operation of the description with valid
 * parameters and body (the fixture fails the test on any violation), and this list pins which
 * operations the farm depends on, so a new one is a visible change.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { publishCheckRun } from "../actions/src/github/checks.ts";
import { upsertStickyComment } from "../actions/src/github/comments.ts";
import {
  downloadReleaseAsset,
  ensureDraftRelease,
  publishRelease,
  uploadReleaseAsset,
  verifyReleaseAsset,
} from "../actions/src/github/index.ts";
import { findIssueByMarker, syncRegressionIssue } from "../actions/src/github/issues.ts";
import { tempDir } from "./helpers/env.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";

const repo = useGitHubRepo();

it("every client function speaks only operations of GitHub's OpenAPI description (local server)", async () => {
  const { gh, server, state, owner, repo: name, logger } = repo();
  const pr = state.addIssue({ title: "pr" });
  const comment = {
    owner,
    repo: name,
    issueNumber: pr.number,
    marker: "<!-- pte-farm:bench -->",
    logger,
    settleMs: 0,
  };
  await upsertStickyComment(gh, { ...comment, body: "one" });
  await upsertStickyComment(gh, { ...comment, body: "two" });
  const annotation = {
    path: "a",
    start_line: 1,
    end_line: 1,
    annotation_level: "notice" as const,
    message: "m",
  };
  await publishCheckRun(gh, {
    owner,
    repo: name,
    headSha: "ce587453ced02b1526dfb4cb910479d431683101",
    name: "pte-farm",
    conclusion: "success",
    title: "t",
    summary: "s",
    text: "x",
    detailsUrl: "https://github.com/octo-org/pte-farm/actions/runs/1",
    annotations: Array.from({ length: 60 }, () => annotation),
  });
  const issue = {
    owner,
    repo: name,
    marker: "<!-- pte-farm:regression x -->",
    labels: ["regression"],
    title: "t",
    logger,
    settleMs: 0,
  };
  await syncRegressionIssue(gh, { ...issue, state: "regressed", body: "a" });
  await syncRegressionIssue(gh, { ...issue, state: "regressed", body: "b", note: "worse" });
  await syncRegressionIssue(gh, { ...issue, state: "recovered", body: "", note: "gone" });
  await findIssueByMarker(gh, { ...issue, state: "all" });

  expect(server.violations).toEqual([]);
  expect(server.requests.every((r) => r.status < 300)).toBe(true);
  expect([...new Set(server.requests.map((r) => r.operationId))].sort()).toEqual([
    "checks/create",
    "checks/update",
    "issues/create",
    "issues/create-comment",
    "issues/list-comments",
    "issues/list-for-repo",
    "issues/update",
    "issues/update-comment",
  ]);
});

it("every release function speaks only operations of GitHub's OpenAPI description (local server, uploads included)", async () => {
  const { gh, server, releases, owner, repo: name, logger } = repo();
  releases.options.digests = false;
  const dir = await tempDir("conformance-");
  const path = join(dir, "model.pte");
  writeFileSync(path, "PTE bytes");
  const file = { size: 9, sha256: createHash("sha256").update("PTE bytes").digest("hex") };
  const where = { owner, repo: name, logger, settleMs: 0 };
  const { release } = await ensureDraftRelease(gh, {
    ...where,
    tag: "v1",
    name: "v1",
    body: "notes",
    targetCommitish: "main",
  });
  await ensureDraftRelease(gh, { ...where, tag: "v1", name: "v1", body: "notes 2", targetCommitish: "main" });
  const asset = await uploadReleaseAsset(gh, { ...where, release, path, name: "model.pte", ...file });
  await uploadReleaseAsset(gh, { ...where, release, path, name: "model.pte", ...file });
  await verifyReleaseAsset(gh, { ...where, asset, ...file });
  await downloadReleaseAsset(gh, { ...where, assetId: asset.id, dest: join(dir, "copy.pte"), expect: file });
  await publishRelease(gh, { ...where, release });

  expect(server.violations).toEqual([]);
  expect(server.requests.every((r) => r.status < 300 || r.status === 302)).toBe(true);
  expect([...new Set(server.requests.map((r) => r.operationId ?? "(object store)"))].sort()).toEqual([
    "(object store)",
    "repos/create-release",
    "repos/get-release-asset",
    "repos/list-release-assets",
    "repos/list-releases",
    "repos/update-release",
    "repos/upload-release-asset",
  ]);
});
