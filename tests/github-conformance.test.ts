/**
 * Every public function of the farm's GitHub client, run once against GitHub's OpenAPI
 * description (local server): each request must be an operation of the description with valid
 * parameters and body (the fixture fails the test on any violation), and this list pins which
 * operations the farm depends on, so a new one is a visible change.
 */
import { expect, it } from "vitest";
import { publishCheckRun } from "../actions/src/github/checks.ts";
import { upsertStickyComment } from "../actions/src/github/comments.ts";
import { findIssueByMarker, syncRegressionIssue } from "../actions/src/github/issues.ts";
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
