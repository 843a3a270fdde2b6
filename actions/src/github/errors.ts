/**
 * Turns octokit's RequestError into a message that names what the farm was doing, GitHub's status
 * and message, and what to fix: a 403 "Resource not accessible by integration" means the
 * workflow's token lacks a permission, and the message says which one.
 *
 * The class decides the exit code (errors.ts): the workflow or token is wrong → ConfigurationError
 * (exit 2); GitHub failed, or refused a request our own code built → InfrastructureError (exit 3).
 */
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";

/** What the farm was doing, for the message, and the token permission it needs. */
export interface GitHubOperation {
  /** Completes "could not …", e.g. "create the bench comment on octo/farm#12". */
  action: string;
  /** The workflow `permissions:` entry that allows it, e.g. "issues: write". */
  permission: string;
}

interface RequestErrorLike {
  status: number;
  message: string;
  request?: { method?: string; url?: string };
  response?: { data?: unknown; headers?: Record<string, string | undefined> };
}

/** octokit's RequestError (by shape: `@octokit/request-error` is not a dependency of ours). */
export function isRequestError(error: unknown): error is RequestErrorLike & Error {
  return error instanceof Error && typeof (error as { status?: unknown }).status === "number";
}

/** GitHub's HTTP status of `error`, or undefined for anything that is not a request error. */
export function statusOf(error: unknown): number | undefined {
  return isRequestError(error) ? error.status : undefined;
}

/**
 * Whether a write may have reached GitHub although the client saw it fail: a 5xx (GitHub commits
 * first and may fail answering) or a network error (octokit reports those as status 500 with no
 * response).
 */
export function mayHaveCommitted(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status >= 500;
}

/** Runs one GitHub call and rethrows its failure as an explained error (original as `cause`). */
export async function callGitHub<T>(operation: GitHubOperation, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainGitHubError(operation, error);
  }
}

export function explainGitHubError(operation: GitHubOperation, error: unknown): Error {
  if (error instanceof ConfigurationError || error instanceof InfrastructureError) return error;
  if (!isRequestError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new InfrastructureError(`GitHub: could not ${operation.action}: ${text}`, { cause: error });
  }
  const { status } = error;
  const said = githubMessage(error);
  const base = `GitHub: could not ${operation.action} (HTTP ${status}: ${said})`;
  const options = { cause: error };
  if (error.response === undefined) {
    return new InfrastructureError(
      `GitHub: could not ${operation.action}: GitHub did not answer ${endpoint(error)}(${said})`,
      options,
    );
  }
  if (status === 401) {
    return new ConfigurationError(
      `${base}. The token is missing, expired or revoked; check the token the workflow passes.`,
      options,
    );
  }
  if (status === 429 || (status === 403 && /rate limit/i.test(said))) {
    return new InfrastructureError(
      `${base}. GitHub's rate limit still held after the retries; run the job again later.`,
      options,
    );
  }
  if (status === 403) {
    return new ConfigurationError(
      `${base}. The workflow's token lacks the permission to do this: give the job \`permissions: { ${operation.permission} }\`` +
        " (a pull_request run from a fork always gets a read-only token; post from the workflow_run workflow).",
      options,
    );
  }
  if (status === 404) {
    return new ConfigurationError(
      `${base}. Check the repository and number; GitHub also answers 404 when the token cannot see the repository.`,
      options,
    );
  }
  if (status >= 500) {
    return new InfrastructureError(
      `${base}. GitHub kept failing ${endpoint(error)}after the client's bounded retries; run the job again later.`,
      options,
    );
  }
  return new InfrastructureError(
    `${base}. GitHub refused the request the farm built; this is a bug in the farm.`,
    options,
  );
}

/** "on GET /repos/o/r/issues/1/comments " (the path without the host or query), or "". */
function endpoint(error: RequestErrorLike): string {
  const { method, url } = error.request ?? {};
  if (method === undefined || url === undefined) return "";
  let p = url;
  try {
    p = new URL(url).pathname;
  } catch {}
  return `on ${method} ${p} `;
}

function githubMessage(error: RequestErrorLike): string {
  const data = error.response?.data as { message?: unknown; errors?: unknown } | undefined;
  if (data && typeof data.message === "string") {
    const details =
      Array.isArray(data.errors) && data.errors.length > 0 ? ` ${JSON.stringify(data.errors)}` : "";
    return `${data.message}${details}`;
  }
  return error.message;
}
