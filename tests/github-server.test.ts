/**
 * The conformance harness itself: if it let a request through that GitHub's OpenAPI description
 * forbids, every other GitHub test would prove nothing. Requests here are raw `fetch` calls, so
 * each one says exactly what goes over the wire.
 */
import { describe, expect, it } from "vitest";
import { githubOpenApi } from "./helpers/github-openapi.ts";
import { RepoState } from "./helpers/github-repo-state.ts";
import { useGitHubServer } from "./helpers/github-server.ts";

const server = useGitHubServer();

async function send(method: string, path: string, body?: string | object, contentType = "application/json") {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": contentType };
  }
  const res = await fetch(`${server().url}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

describe("local GitHub server against GitHub's OpenAPI description", () => {
  it("answers an operation without a handler with the description's own example", async () => {
    const res = await send("GET", "/repos/octocat/Hello-World/issues/1347");
    const media = githubOpenApi().byOperationId("issues/get").responses["200"]?.content?.["application/json"];
    expect(res.status).toBe(200);
    expect(res.json).toEqual(githubOpenApi().exampleOf(media).value);
    server().assertNoViolations();
  });

  it("routes a literal segment before a parameter (/issues/comments is not issue #comments)", async () => {
    await send("GET", "/repos/octocat/Hello-World/issues/comments");
    expect(server().requests.map((r) => r.operationId)).toEqual(["issues/list-comments-for-repo"]);
  });

  it("rejects and records a path no operation has, and a method the path does not have", async () => {
    expect((await send("GET", "/repos/octocat/Hello-World/isues")).status).toBe(404);
    expect((await send("PUT", "/repos/octocat/Hello-World/issues/1/comments", { body: "x" })).status).toBe(
      404,
    );
    expect(
      server()
        .takeViolations()
        .map((v) => v.kind),
    ).toEqual(["unknown-route", "method"]);
  });

  it("rejects a path parameter of the wrong type", async () => {
    expect((await send("GET", "/repos/octocat/Hello-World/issues/first")).status).toBe(404);
    const [violation] = server().takeViolations();
    expect(violation).toMatchObject({ kind: "path-params", operationId: "issues/get" });
    expect(violation?.message).toContain("issue_number must be integer");
  });

  it("rejects an undocumented query parameter and a query value outside its enum", async () => {
    expect((await send("GET", "/repos/octocat/Hello-World/issues?label=bug")).status).toBe(422);
    expect((await send("GET", "/repos/octocat/Hello-World/issues?state=opened")).status).toBe(422);
    const messages = server()
      .takeViolations()
      .map((v) => `${v.kind}: ${v.message}`);
    expect(messages[0]).toMatch(/^query: .*"label" is not allowed/);
    expect(messages[1]).toMatch(/^query: .*state must be equal to one of the allowed values/);
  });

  it("coerces query strings to the documented types before checking them", async () => {
    expect((await send("GET", "/repos/octocat/Hello-World/issues?per_page=100&page=2")).status).toBe(200);
    expect((await send("GET", "/repos/octocat/Hello-World/issues?per_page=many")).status).toBe(422);
    expect(
      server()
        .takeViolations()
        .map((v) => v.message),
    ).toEqual(["query/per_page must be integer"]);
  });

  it("rejects a body missing a required field, and a misspelt field", async () => {
    const missing = await send("POST", "/repos/octocat/Hello-World/issues/1/comments", {});
    const misspelt = await send("POST", "/repos/octocat/Hello-World/check-runs", {
      name: "bench",
      "head-sha": "abc",
    });
    expect([missing.status, misspelt.status]).toEqual([422, 422]);
    const messages = server()
      .takeViolations()
      .map((v) => v.message);
    expect(messages[0]).toContain("must have required property 'body'");
    expect(messages[1]).toContain('property "head-sha" is not allowed');
  });

  it("rejects a property where the description itself says additionalProperties: false", async () => {
    const res = await send("POST", "/repos/octocat/Hello-World/issues", {
      title: "t",
      issue_field_values: [{ field_id: 1, value: "high", weight: 3 }],
    });
    expect(res.status).toBe(422);
    expect(server().takeViolations()[0]?.message).toContain(
      'issue_field_values/0: property "weight" is not allowed',
    );
  });

  it("rejects more than 50 annotations in one check-run request (the description's maxItems)", async () => {
    const annotation = {
      path: "a.py",
      start_line: 1,
      end_line: 1,
      annotation_level: "warning",
      message: "m",
    };
    const output = { title: "t", summary: "s", annotations: Array.from({ length: 51 }, () => annotation) };
    const res = await send("POST", "/repos/octocat/Hello-World/check-runs", {
      name: "n",
      head_sha: "abc",
      output,
    });
    expect(res.status).toBe(422);
    expect(server().takeViolations()[0]?.message).toContain("must NOT have more than 50 items");
  });

  it("rejects a content type the operation does not accept, and malformed JSON", async () => {
    const text = await send("POST", "/repos/octocat/Hello-World/issues/1/comments", "hello", "text/plain");
    const broken = await send(
      "POST",
      "/repos/octocat/Hello-World/issues/1/comments",
      "{",
      "application/json",
    );
    expect([text.status, broken.status]).toEqual([415, 400]);
    expect(
      server()
        .takeViolations()
        .map((v) => v.kind),
    ).toEqual(["content-type", "body"]);
  });

  it("accepts a binary release-asset upload as octet-stream and hands the handler the bytes", async () => {
    let received: unknown;
    server().handle("repos/upload-release-asset", (req) => {
      received = req.body;
      const media = req.url.searchParams.get("name");
      const example = githubOpenApi().exampleOf(
        githubOpenApi().byOperationId("repos/upload-release-asset").responses["201"]?.content?.[
          "application/json"
        ],
      );
      return { status: 201, body: { ...(example.value as object), name: media } };
    });
    const bytes = Buffer.from([0x50, 0x54, 0x45, 0x00, 0xff]);
    const res = await fetch(`${server().url}/repos/octocat/Hello-World/releases/1/assets?name=model.pte`, {
      method: "POST",
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(201);
    expect(Buffer.isBuffer(received) && received.equals(bytes)).toBe(true);
    const asJson = await send("POST", "/repos/octocat/Hello-World/releases/1/assets?name=x", { data: 1 });
    expect(asJson.status).toBe(415);
    expect(
      server()
        .takeViolations()
        .map((v) => v.kind),
    ).toEqual(["content-type"]);
  });

  it("records a violation when a handler's reply drifts from the response schema", async () => {
    server().handle("issues/get-comment", () => ({ status: 200, body: { id: "one", body: "x" } }));
    server().handle("issues/delete-comment", () => ({ status: 200, body: { deleted: true } }));
    await send("GET", "/repos/octocat/Hello-World/issues/comments/1");
    await send("DELETE", "/repos/octocat/Hello-World/issues/comments/1");
    const violations = server().takeViolations();
    expect(violations.map((v) => v.kind)).toEqual(["response", "response"]);
    expect(violations[0]?.message).toMatch(/id must be integer|must have required property/);
    expect(violations[1]?.message).toBe("status 200 is not a documented response");
  });

  it("keeps the in-memory repository's replies inside the response schemas", async () => {
    const state = new RepoState("octocat", "Hello-World");
    server().use(state.handlers());
    const issue = await send("POST", "/repos/octocat/Hello-World/issues", {
      title: "slow",
      body: "b",
      labels: ["perf"],
    });
    await send("POST", "/repos/octocat/Hello-World/issues/1/comments", { body: "first" });
    await send("PATCH", "/repos/octocat/Hello-World/issues/1", {
      state: "closed",
      state_reason: "completed",
    });
    const listed = await send("GET", "/repos/octocat/Hello-World/issues?state=closed&labels=perf");
    expect(issue.status).toBe(201);
    expect(listed.json).toMatchObject([
      { number: 1, state: "closed", comments: 1, state_reason: "completed" },
    ]);
    server().assertNoViolations();
  });

  it("flags a client that retries before the retry-after it was given", async () => {
    server().inject("issues/list-comments", {
      status: 403,
      headers: { "retry-after": "5" },
      body: {
        message: "You have exceeded a secondary rate limit.",
        documentation_url: "https://docs.github.com",
      },
    });
    expect((await send("GET", "/repos/octocat/Hello-World/issues/1/comments")).status).toBe(403);
    await send("GET", "/repos/octocat/Hello-World/issues/1/comments");
    expect(
      server()
        .takeViolations()
        .map((v) => v.kind),
    ).toEqual(["early-retry"]);
  });

  it("fails the test with every violation listed", async () => {
    await send("GET", "/nowhere");
    expect(() => server().assertNoViolations()).toThrow(
      /1 request\(s\) outside GitHub's OpenAPI description:\n- \[unknown-route\] GET \/nowhere/,
    );
    server().takeViolations();
  });
});
