/**
 * What a handler of the local GitHub server answers, and the check that holds the answer to the
 * operation's documented responses (so a stateful fake that drifts from GitHub is caught).
 */
import type { GitHubOpenApi, SpecOperation } from "./github-openapi.ts";

export interface Reply {
  status: number;
  /** JSON-serialisable data, or a Buffer sent as-is (binary downloads). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** GitHub's error shape (`basic-error` / `validation-error`): `{ message, documentation_url }`. */
export function errorReply(status: number, message: string, headers?: Record<string, string>): Reply {
  return {
    status,
    body: { message, documentation_url: "https://docs.github.com/rest" },
    ...(headers ? { headers } : {}),
  };
}

/**
 * Problems with `reply` as an answer to `op`: a success status the operation does not document,
 * or a body that does not match the schema of its status. An undocumented error status is
 * allowed (GitHub answers 404 on most routes without saying so) if it has GitHub's error shape.
 */
export function checkReply(spec: GitHubOpenApi, op: SpecOperation, reply: Reply): string[] {
  const key = String(reply.status);
  const documented = op.responses[key] ?? op.responses.default;
  if (documented === undefined) {
    if (reply.status < 400) return [`status ${reply.status} is not a documented response`];
    return errorShapeProblems(spec, reply);
  }
  const media = documented.content?.["application/json"];
  if (media === undefined) {
    if (reply.body === undefined || documented.content !== undefined) return [];
    // GitHub sends its error shape with every error even where the description documents the
    // status without a body (upload-release-asset's 422 `already_exists`).
    if (reply.status >= 400) return errorShapeProblems(spec, reply);
    return [`status ${reply.status} is documented without a body, but the reply has one`];
  }
  if (media.schema === undefined) return [];
  if (reply.body === undefined) return [`status ${reply.status} needs a JSON body`];
  const schema = media.schema;
  const check = spec.check(`${op.operationId} response ${key}`, () => schema, reply.body, "response");
  return check.errors;
}

/** An error reply outside the documented ones must still have GitHub's error shape. */
function errorShapeProblems(spec: GitHubOpenApi, reply: Reply): string[] {
  const check = spec.check(
    "#basic-error",
    () => ({ $ref: "#/components/schemas/basic-error" }),
    reply.body,
    "response",
  );
  return check.ok ? [] : check.errors;
}
