/**
 * Retry and throttling of the farm's GitHub client, against GitHub's OpenAPI description (local
 * server). Rate-limit hints are 1 s, the smallest GitHub sends; the server itself records a
 * violation if a retry arrives before its hint, and attempts are counted on the server.
 */
import { describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { findMarkedComment } from "../actions/src/github/comments.ts";
import { callGitHub } from "../actions/src/github/errors.ts";
import { testClient, useGitHubRepo } from "./helpers/github-fixture.ts";
import { errorReply } from "./helpers/github-server.ts";

const SECONDARY =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
  "If you reach out to GitHub Support for help, please include the request ID LOCAL:0000.";

describe("GitHub client retries against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();

  // @fault rate-limits | a secondary rate limit (403 with retry-after) from the local GitHub server | waits as told, then retries the POST once
  it("waits for retry-after on a secondary rate limit (403), then retries the POST once", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/create-comment", errorReply(403, SECONDARY, { "retry-after": "1" }));

    await gh.rest.issues.createComment({ owner, repo: name, issue_number: issue.number, body: "hi" });

    const [limited, retried] = server.requestsFor("issues/create-comment");
    expect([limited?.status, retried?.status]).toEqual([403, 201]);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(state.commentsOn(issue.number)).toHaveLength(1);
  });

  it("waits for retry-after on a 429, then retries the GET", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/list-comments", errorReply(429, SECONDARY, { "retry-after": "1" }));

    await findMarkedComment(gh, { owner, repo: name, issueNumber: issue.number, marker: "<!-- m -->" });

    const attempts = server.requestsFor("issues/list-comments");
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(990);
  });

  // @fault rate-limits | the primary rate limit used up (x-ratelimit-remaining 0) | waits until x-ratelimit-reset, then retries
  it("waits until x-ratelimit-reset when the primary rate limit is used up", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    const reset = Math.ceil(Date.now() / 1000);
    server.inject(
      "issues/get",
      errorReply(403, "API rate limit exceeded for installation ID 1.", {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(reset),
      }),
    );

    const { data } = await gh.rest.issues.get({ owner, repo: name, issue_number: issue.number });

    expect(data.number).toBe(issue.number);
    expect(server.requestsFor("issues/get").map((r) => r.status)).toEqual([403, 200]);
  });

  // @fault rate-limits | a secondary rate limit on every attempt, with one retry allowed | gives up after that retry as an infrastructure error that says so
  it("gives up after the configured number of rate-limit retries, with a message that says so", async () => {
    const { server, state, owner, repo: name } = repo();
    const logger = new RecordingLogger();
    const gh = testClient(server, logger, 1);
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/get", errorReply(403, SECONDARY, { "retry-after": "1" }), 3);

    const call = callGitHub({ action: "read the issue", permission: "issues: read" }, () =>
      gh.rest.issues.get({ owner, repo: name, issue_number: issue.number }),
    );

    await expect(call).rejects.toThrow(InfrastructureError);
    await expect(call).rejects.toThrow(
      /HTTP 403: You have exceeded a secondary rate limit.*run the job again later/,
    );
    expect(server.requestsFor("issues/get")).toHaveLength(2);
    expect(logger.text()).toMatch(/retrying in 1 s \(retry 1 of 1\)[\s\S]*giving up/);
  });

  it("never retries a 422: exactly one request, and the error carries GitHub's message", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/create-comment", {
      status: 422,
      body: {
        message: "Validation Failed",
        errors: [{ resource: "IssueComment", code: "custom", message: "Body is too long" }],
        documentation_url: "https://docs.github.com/rest",
      },
    });

    const call = callGitHub({ action: "post the comment", permission: "issues: write" }, () =>
      gh.rest.issues.createComment({ owner, repo: name, issue_number: issue.number, body: "x" }),
    );

    await expect(call).rejects.toThrow(
      /could not post the comment \(HTTP 422: Validation Failed .*Body is too long/,
    );
    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
  });

  // @fault bounded-5xx-retries | a GET answered 502 twice, then 200 | retried, and the answer returned
  it("retries a GET after 5xx answers and returns the eventual answer", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    state.addComment(issue.number, "<!-- m -->\nold");
    server.inject("issues/list-comments", errorReply(502, "Server Error"), 2);

    const found = await findMarkedComment(gh, {
      owner,
      repo: name,
      issueNumber: issue.number,
      marker: "<!-- m -->",
    });

    expect(found?.body).toBe("<!-- m -->\nold");
    expect(server.requestsFor("issues/list-comments").map((r) => r.status)).toEqual([502, 502, 200]);
  });

  // @fault bounded-5xx-retries | a GET answered 503 every time | three attempts, then an infrastructure error naming GET and the endpoint
  it("gives up on a GET that keeps failing with 5xx after the bound, as infrastructure naming the endpoint", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/list-comments", errorReply(503, "Service Unavailable"), 10);

    const err = await findMarkedComment(gh, {
      owner,
      repo: name,
      issueNumber: issue.number,
      marker: "<!-- m -->",
    }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(InfrastructureError);
    expect(String(err)).toContain(
      `on GET /repos/${owner}/${name}/issues/${issue.number}/comments after the client's bounded retries`,
    );
    expect(String(err)).toContain("HTTP 503");
    // testClient allows 2 retries: three attempts, then it stops.
    expect(server.requestsFor("issues/list-comments").map((r) => r.status)).toEqual([503, 503, 503]);
  });

  // @fault bounded-5xx-retries | a POST and a PATCH answered 5xx | sent once each: a write may have been committed
  it("does not retry a POST or a PATCH after a 5xx by itself (it may have been committed)", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    const issue = state.addIssue({ title: "pr" });
    server.inject("issues/create-comment", errorReply(502, "Server Error"));
    server.inject("issues/update", errorReply(503, "Service Unavailable"));

    await expect(
      gh.rest.issues.createComment({ owner, repo: name, issue_number: 1, body: "x" }),
    ).rejects.toThrow();
    await expect(gh.rest.issues.update({ owner, repo: name, issue_number: 1, title: "y" })).rejects.toThrow();

    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
    expect(server.requestsFor("issues/update")).toHaveLength(1);
    expect(issue.title).toBe("pr");
  });

  it("explains a 403 'Resource not accessible by integration' as a missing workflow permission", async () => {
    const { gh, server, state, owner, repo: name } = repo();
    state.addIssue({ title: "pr" });
    server.inject("issues/create-comment", errorReply(403, "Resource not accessible by integration"));

    const call = callGitHub({ action: "create the comment on #1", permission: "issues: write" }, () =>
      gh.rest.issues.createComment({ owner, repo: name, issue_number: 1, body: "x" }),
    );

    await expect(call).rejects.toThrow(ConfigurationError);
    await expect(call).rejects.toThrow(
      /could not create the comment on #1 \(HTTP 403: Resource not accessible by integration\)\. .*permissions: \{ issues: write \}/,
    );
    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
  });

  it("explains a 401 as a token problem and a 404 as a repository the token cannot see", async () => {
    const { gh, server, owner } = repo();
    server.inject("issues/get", errorReply(401, "Bad credentials"));

    const unauthorized = callGitHub({ action: "read issue #1", permission: "issues: read" }, () =>
      gh.rest.issues.get({ owner, repo: "pte-farm", issue_number: 1 }),
    );
    const missing = callGitHub({ action: "read issue #1", permission: "issues: read" }, () =>
      gh.rest.issues.get({ owner, repo: "no-such-repo", issue_number: 1 }),
    );

    await expect(unauthorized).rejects.toThrow(
      /HTTP 401: Bad credentials\)\. The token is missing, expired or revoked/,
    );
    await expect(missing).rejects.toThrow(/HTTP 404: Not Found\)\. Check the repository/);
  });
});
