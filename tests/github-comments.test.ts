import { describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import { upsertStickyComment } from "../actions/src/github/comments.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { errorReply } from "./helpers/github-server.ts";

const MARKER = "<!-- pte-farm:bench -->";

describe("sticky PR comment against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();

  function setup() {
    const fixture = repo();
    const pr = fixture.state.addIssue({ title: "a pull request" });
    const where = {
      owner: fixture.owner,
      repo: fixture.repo,
      issueNumber: pr.number,
      marker: MARKER,
      logger: fixture.logger,
      settleMs: 0,
    };
    const ours = () => fixture.state.commentsOn(pr.number).filter((c) => c.body.includes(MARKER));
    return { ...fixture, pr, where, ours };
  }

  it("creates the comment once, then updates it in place on the next run", async () => {
    const { gh, state, pr, where, ours } = setup();
    state.addComment(pr.number, "LGTM");

    const first = await upsertStickyComment(gh, { ...where, body: "run 1" });
    const second = await upsertStickyComment(gh, { ...where, body: "run 2" });

    expect(first.action).toBe("created");
    expect(second).toMatchObject({ action: "updated", id: first.id });
    expect(ours().map((c) => c.body)).toEqual([`${MARKER}\nrun 2`]);
    expect(state.commentsOn(pr.number)).toHaveLength(2);
  });

  // @fault sticky-comment-race | two report runs creating the sticky comment at once | exactly one comment, holding one run's body
  it("two runs racing to create the comment leave exactly one, holding one run's body", async () => {
    const { gh, where, ours } = setup();

    const [a, b] = await Promise.all([
      upsertStickyComment(gh, { ...where, body: "run A" }),
      upsertStickyComment(gh, { ...where, body: "run B" }),
    ]);

    expect(ours()).toHaveLength(1);
    expect([`${MARKER}\nrun A`, `${MARKER}\nrun B`]).toContain(ours()[0]?.body);
    expect(a.id).toBe(b.id);
  });

  it("leaves an identical comment alone (no write at all)", async () => {
    const { gh, server, where } = setup();
    await upsertStickyComment(gh, { ...where, body: "same" });

    const again = await upsertStickyComment(gh, { ...where, body: "same" });

    expect(again.action).toBe("unchanged");
    expect(server.requestsFor("issues/update-comment")).toHaveLength(0);
    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
  });

  it("finds its comment beyond the first 100 (pagination) instead of adding a second", async () => {
    const { gh, server, state, pr, where, ours } = setup();
    for (let i = 0; i < 130; i++) state.addComment(pr.number, `chatter ${i}`);
    const mine = state.addComment(pr.number, `${MARKER}\nold numbers`);
    for (let i = 0; i < 20; i++) state.addComment(pr.number, `more chatter ${i}`);

    const result = await upsertStickyComment(gh, { ...where, body: "new numbers" });

    expect(result).toMatchObject({ action: "updated", id: mine.id });
    expect(ours()).toHaveLength(1);
    expect(server.requestsFor("issues/list-comments")).toHaveLength(2);
  });

  // @fault sticky-comment-race | a comment create that GitHub stored but answered 502 | no second comment
  it("a create answered 502 after GitHub stored it leaves exactly one comment", async () => {
    const { gh, server, where, ours, logger } = setup();
    server.inject("issues/create-comment", { ...errorReply(502, "Server Error"), afterCommit: true });

    const result = await upsertStickyComment(gh, { ...where, body: "bench" });

    expect(result.action).toBe("created");
    expect(ours()).toHaveLength(1);
    expect(result.id).toBe(ours()[0]?.id);
    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
    expect(logger.text()).toMatch(/failed \(HTTP 502\); checking whether GitHub stored it/);
  });

  it("a create whose connection drops after GitHub stored it leaves exactly one comment", async () => {
    const { gh, server, where, ours } = setup();
    server.inject("issues/create-comment", { status: 502, afterCommit: true, reset: true });

    const result = await upsertStickyComment(gh, { ...where, body: "bench" });

    expect(result.action).toBe("created");
    expect(ours()).toHaveLength(1);
    expect(server.requestsFor("issues/create-comment")).toHaveLength(1);
  });

  it("a create that failed with 502 before storing anything is sent again, once", async () => {
    const { gh, server, where, ours } = setup();
    server.inject("issues/create-comment", errorReply(502, "Server Error"));

    const result = await upsertStickyComment(gh, { ...where, body: "bench" });

    expect(result.action).toBe("created");
    expect(ours().map((c) => c.body)).toEqual([`${MARKER}\nbench`]);
    expect(server.requestsFor("issues/create-comment").map((r) => r.status)).toEqual([502, 201]);
  });

  it("gives up after three failed creates with an infrastructure error, still without duplicates", async () => {
    const { gh, server, where, ours } = setup();
    server.inject("issues/create-comment", errorReply(503, "Service Unavailable"), 3);

    await expect(upsertStickyComment(gh, { ...where, body: "bench" })).rejects.toThrow(InfrastructureError);
    expect(ours()).toHaveLength(0);
    expect(server.requestsFor("issues/create-comment")).toHaveLength(3);
  });

  it("retries an update after a 5xx (setting a body twice is harmless)", async () => {
    const { gh, server, state, pr, where, ours } = setup();
    state.addComment(pr.number, `${MARKER}\nold`);
    server.inject("issues/update-comment", errorReply(502, "Server Error"));

    const result = await upsertStickyComment(gh, { ...where, body: "new" });

    expect(result.action).toBe("updated");
    expect(ours().map((c) => c.body)).toEqual([`${MARKER}\nnew`]);
    expect(server.requestsFor("issues/update-comment").map((r) => r.status)).toEqual([502, 200]);
  });

  it("rejects a marker that is not one hidden HTML comment", async () => {
    const { gh, where } = setup();
    await expect(upsertStickyComment(gh, { ...where, marker: "pte-farm:bench", body: "x" })).rejects.toThrow(
      ConfigurationError,
    );
  });
});
