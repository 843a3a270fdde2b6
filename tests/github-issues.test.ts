import { describe, expect, it } from "vitest";
import { findIssueByMarker, syncRegressionIssue } from "../actions/src/github/issues.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { errorReply } from "./helpers/github-server.ts";

const MARKER = "<!-- pte-farm:regression tiny-llama/fp32/portable/host@stable decode_tokens_per_sec -->";
const LABELS = ["pte-farm", "regression"];

describe("nightly regression issue against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();

  function setup() {
    const fixture = repo();
    const sync = {
      owner: fixture.owner,
      repo: fixture.repo,
      marker: MARKER,
      labels: LABELS,
      title: "Regression: tiny-llama decode tok/s on host",
      logger: fixture.logger,
      settleMs: 0,
    };
    const ours = () => fixture.state.issues.filter((i) => i.body?.includes(MARKER));
    return { ...fixture, sync, ours };
  }

  it("opens, updates, comments on and closes one issue over a regression's life", async () => {
    const { gh, state, sync, ours } = setup();

    const opened = await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12% (CI -15%…-9%)" });
    const same = await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12% (CI -15%…-9%)" });
    const updated = await syncRegressionIssue(gh, {
      ...sync,
      state: "regressed",
      body: "-13% (CI -15%…-11%)",
    });
    const worse = await syncRegressionIssue(gh, {
      ...sync,
      state: "regressed",
      body: "-30%",
      note: "Worse since abc123: -13% → -30%.",
    });
    const closed = await syncRegressionIssue(gh, {
      ...sync,
      state: "recovered",
      body: "",
      note: "Recovered in def456.",
    });
    const after = await syncRegressionIssue(gh, { ...sync, state: "recovered", body: "" });

    expect([opened, same, updated, worse, closed, after]).toEqual([
      { action: "created", number: 1 },
      { action: "none", number: 1 },
      { action: "updated", number: 1 },
      { action: "commented", number: 1 },
      { action: "closed", number: 1 },
      { action: "none" },
    ]);
    const [issue] = ours();
    expect(ours()).toHaveLength(1);
    expect(issue).toMatchObject({ state: "closed", state_reason: "completed", body: `${MARKER}\n-30%` });
    expect(issue?.labels.map((l) => l.name)).toEqual(LABELS);
    expect(state.commentsOn(1).map((c) => c.body)).toEqual([
      "Worse since abc123: -13% → -30%.",
      "Recovered in def456.",
    ]);
  });

  it("opens a new issue when a closed regression comes back", async () => {
    const { gh, sync, ours } = setup();
    await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12%" });
    await syncRegressionIssue(gh, { ...sync, state: "recovered", body: "" });

    const again = await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-14%" });

    expect(again).toEqual({ action: "created", number: 2 });
    expect(ours().map((i) => i.state)).toEqual(["closed", "open"]);
  });

  it("finds its issue among more than 100 open issues with the same labels, and ignores other markers", async () => {
    const { gh, state, server, sync } = setup();
    for (let i = 0; i < 120; i++) {
      state.addIssue({ title: `other ${i}`, body: `<!-- pte-farm:regression cell-${i} -->`, labels: LABELS });
    }
    const mine = state.addIssue({ title: "mine", body: `${MARKER}\nold`, labels: LABELS });
    state.addIssue({ title: "a user's issue quoting nothing", body: "decode is slow", labels: ["bug"] });

    const found = await findIssueByMarker(gh, {
      owner: sync.owner,
      repo: sync.repo,
      marker: MARKER,
      labels: LABELS,
    });
    const result = await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "new" });

    expect(found?.number).toBe(mine.number);
    expect(result).toEqual({ action: "updated", number: mine.number });
    expect(server.requestsFor("issues/list-for-repo").length).toBeGreaterThanOrEqual(4);
  });

  it("two syncs at once leave one open issue: the later duplicate is closed as a duplicate", async () => {
    const { gh, server, state, sync, ours, logger } = setup();
    // Make the race certain: the first two listings answer only once both have arrived, so both
    // syncs see no issue and both create one.
    const list = state.handlers()["issues/list-for-repo"];
    const held: (() => void)[] = [];
    let calls = 0;
    server.handle("issues/list-for-repo", async (req) => {
      if (++calls <= 2) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length === 2) for (const release of held) release();
        });
      }
      return list?.(req) ?? { status: 500 };
    });

    const results = await Promise.all([
      syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12%" }),
      syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12%" }),
    ]);

    expect(
      ours()
        .filter((i) => i.state === "open")
        .map((i) => i.number),
    ).toEqual([1]);
    expect(results.map((r) => r.number)).toEqual([1, 1]);
    expect(
      ours()
        .filter((i) => i.state === "closed")
        .map((i) => [i.number, i.state_reason]),
    ).toEqual([[2, "duplicate"]]);
    expect(logger.text()).toContain("#2 duplicates #1 (opened concurrently); closing #2");
  });

  it("a create answered 502 after GitHub stored it leaves exactly one issue", async () => {
    const { gh, server, sync, ours } = setup();
    server.inject("issues/create", { ...errorReply(502, "Server Error"), afterCommit: true });

    const result = await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12%" });

    expect(result).toEqual({ action: "created", number: 1 });
    expect(ours()).toHaveLength(1);
    expect(server.requestsFor("issues/create")).toHaveLength(1);
  });

  it("a closing note answered 502 after GitHub stored it is not posted twice", async () => {
    const { gh, server, state, sync } = setup();
    await syncRegressionIssue(gh, { ...sync, state: "regressed", body: "-12%" });
    server.inject("issues/create-comment", { ...errorReply(502, "Server Error"), afterCommit: true });

    const closed = await syncRegressionIssue(gh, {
      ...sync,
      state: "recovered",
      body: "",
      note: "Recovered.",
    });

    expect(closed.action).toBe("closed");
    expect(state.commentsOn(1).map((c) => c.body)).toEqual(["Recovered."]);
    expect(state.issues[0]?.state).toBe("closed");
  });
});
