import { describe, expect, it } from "vitest";
import { InfrastructureError } from "../actions/src/core/errors.ts";
import { type CheckAnnotation, publishCheckRun } from "../actions/src/github/checks.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { errorReply } from "./helpers/github-server.ts";

const SHA = "ce587453ced02b1526dfb4cb910479d431683101";

function annotations(n: number): CheckAnnotation[] {
  return Array.from({ length: n }, (_, i) => ({
    path: "matrix/farm.yml",
    start_line: i + 1,
    end_line: i + 1,
    annotation_level: "failure" as const,
    message: `cell ${i} failed its gate`,
  }));
}

describe("check run against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();

  function base() {
    const { owner, repo: name } = repo();
    return { owner, repo: name, headSha: SHA, name: "pte-farm bench", title: "3 cells, 1 regression" };
  }

  // @fault api-size-limits | 120 annotations for one check run (GitHub takes 50 a request) | sent as 50 + 50 + 20, concluding with the last
  it("sends 120 annotations as 50 + 50 + 20, concluding with the last request", async () => {
    const { gh, server, state } = repo();

    const result = await publishCheckRun(gh, {
      ...base(),
      conclusion: "failure",
      summary: "summary",
      annotations: annotations(120),
    });

    expect(result.annotationRequests).toBe(3);
    expect(server.requestsFor("checks/create")).toHaveLength(1);
    expect(server.requestsFor("checks/update")).toHaveLength(2);
    const [stored] = state.checkRuns;
    expect(stored?.annotations.map((a) => a.start_line)).toEqual(
      Array.from({ length: 120 }, (_, i) => i + 1),
    );
    expect(stored?.run).toMatchObject({ status: "completed", conclusion: "failure", id: result.id });
  });

  it("creates a finished check in one request when there are at most 50 annotations", async () => {
    const { gh, server, state } = repo();

    await publishCheckRun(gh, {
      ...base(),
      conclusion: "success",
      summary: "all green",
      annotations: annotations(50),
    });

    expect(server.requests.map((r) => r.operationId)).toEqual(["checks/create"]);
    expect(state.checkRuns[0]?.run).toMatchObject({ status: "completed", conclusion: "success" });
    expect(state.checkRuns[0]?.annotations).toHaveLength(50);
  });

  // @fault api-size-limits | a check-run summary and text over 65535 characters, multibyte | clipped to the limit with a visible note
  it("clips a multibyte summary and text to GitHub's 65535-character limit, with a visible note", async () => {
    const { gh, state } = repo();
    const huge = "解码速度 🚀 ".repeat(10_000);

    await publishCheckRun(gh, {
      ...base(),
      conclusion: "neutral",
      summary: huge,
      text: huge,
      detailsUrl: "https://example.com/run/1",
    });

    const output = state.checkRuns[0]?.run.output as { summary: string; text: string };
    expect(output.summary.length).toBeLessThanOrEqual(65535);
    expect(output.summary).toMatch(/… \(truncated: the full text is in the workflow run's artifacts\)$/);
    expect(output.summary).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(output.text.length).toBeLessThanOrEqual(65535);
  });

  it("drops columns on a multi-line annotation, which GitHub would reject", async () => {
    const { gh, state } = repo();
    const spanning: CheckAnnotation = {
      path: "a.py",
      start_line: 1,
      end_line: 3,
      start_column: 2,
      end_column: 4,
      annotation_level: "warning",
      message: "m",
      title: "t".repeat(300),
    };

    await publishCheckRun(gh, { ...base(), conclusion: "neutral", summary: "s", annotations: [spanning] });

    const [stored] = state.checkRuns[0]?.annotations ?? [];
    expect(stored).toMatchObject({ start_column: null, end_column: null });
    expect(String(stored?.title).length).toBe(255);
  });

  it("still concludes the check when an annotation batch fails, then reports the failure", async () => {
    const { gh, server, state } = repo();
    server.inject("checks/update", errorReply(502, "Server Error"));

    const publish = publishCheckRun(gh, {
      ...base(),
      conclusion: "failure",
      summary: "s",
      annotations: annotations(75),
      settleMs: 0,
    });

    await expect(publish).rejects.toThrow(InfrastructureError);
    expect(state.checkRuns[0]?.run).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(server.requestsFor("checks/update").map((r) => r.status)).toEqual([502, 200]);
  });
});
