/**
 * A local stand-in for api.github.com (and uploads.github.com) that holds every request to
 * GitHub's official OpenAPI description: an unknown route, a parameter of the wrong type, a body
 * the operation does not accept or the wrong content type is answered 4xx, as GitHub would, and
 * recorded as a violation so the test fails (`assertNoViolations`, or `useGitHubServer` does it
 * after each test). Without a handler an operation answers its documented example; handlers
 * (e.g. `repoState()`) make it stateful, and their replies are validated against the response
 * schema too, so the fake cannot drift from GitHub unnoticed. Faults (5xx, rate limits, a write
 * that lands but answers 502, a dropped connection) are injected per operation.
 *
 * One server plays both api.github.com and uploads.github.com: octokit sends release asset
 * uploads to uploads.github.com unless the call passes `baseUrl: server.url`, and the body arrives
 * at the handler as a Buffer (`application/octet-stream`). Routes outside the API (the object
 * store a release asset download is redirected to) are registered with `outsideApi`.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { afterEach, beforeEach } from "vitest";
import { type GitHubOpenApi, githubOpenApi, type SpecOperation } from "./github-openapi.ts";
import { checkReply, type Reply } from "./github-replies.ts";
import { type ParsedBody, readBody } from "./github-request-body.ts";

export { errorReply, type Reply } from "./github-replies.ts";

/** A request that passed validation, as a handler sees it. */
export interface GitHubRequest {
  operationId: string;
  method: string;
  template: string;
  /** Path parameters, coerced to the description's types (`issue_number` is a number). */
  params: Record<string, unknown>;
  /** Query parameters, coerced likewise. */
  query: Record<string, unknown>;
  /** Parsed JSON for JSON bodies, a Buffer for binary uploads, a string for text, else undefined. */
  body: unknown;
  contentType?: string;
  headers: IncomingHttpHeaders;
  /** The absolute URL the client used, for building `Link` headers that point back here. */
  url: URL;
  /**
   * The connection dropped mid-body (a `dropAfterBodyBytes` fault): `body` holds the bytes that
   * arrived, the handler stores what GitHub would keep of a cut request, and its reply is never sent.
   */
  interrupted?: boolean;
}

/** Serves a path outside the API; nothing there is checked against the description. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export type Handler = (request: GitHubRequest) => Reply | Promise<Reply>;

/** What an injected fault answers instead of the operation. */
export interface Fault extends Reply {
  /** Run the operation's handler first (the write lands), then answer the fault: "committed, but 502". */
  afterCommit?: boolean;
  /** Drop the connection without answering (the client sees a network error), instead of `status`. */
  reset?: boolean;
  /**
   * Read only this many bytes of the request body, hand them to the handler as an `interrupted`
   * request, then drop the connection: an upload cut off half-way. A shorter body arrives whole
   * and the fault answers as it would without this field.
   */
  dropAfterBodyBytes?: number;
}

export type ViolationKind =
  | "unknown-route"
  | "method"
  | "path-params"
  | "query"
  | "content-type"
  | "body"
  | "early-retry"
  | "response"
  | "no-example"
  | "handler-error";

/** A request the description does not allow, or a fake that answered outside it. */
export interface Violation {
  kind: ViolationKind;
  method: string;
  path: string;
  operationId?: string;
  message: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId?: string;
  status: number;
  /** `performance.now()` when the request arrived, for ordering and gaps between attempts. */
  at: number;
  fault: boolean;
}

export interface GitHubServerOptions {
  handlers?: Record<string, Handler>;
  /** Reject body properties an inline schema does not list (default true; see ConvertOptions). */
  closeRequestBodies?: boolean;
}

/** Timers may fire a millisecond early; a retry this close to the hint is not "early". */
const EARLY_SLACK_MS = 10;

export class GitHubServer {
  readonly violations: Violation[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly spec: GitHubOpenApi;
  private readonly handlers = new Map<string, Handler>();
  private readonly faults = new Map<string, Fault[]>();
  /** operationId → earliest time (performance.now) a retry may arrive, from a retry-after we sent. */
  private readonly notBefore = new Map<string, number>();
  private readonly closeBodies: boolean;
  private readonly raw: { prefix: string; handler: RawHandler }[] = [];
  private readonly http = createServer((req, res) => {
    this.serve(req, res).catch((error: unknown) => {
      this.violate("handler-error", req.method ?? "?", req.url ?? "?", undefined, String(error));
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  private base = "";

  constructor(options: GitHubServerOptions = {}) {
    this.spec = githubOpenApi();
    this.closeBodies = options.closeRequestBodies ?? true;
    this.use(options.handlers ?? {});
  }

  /** `http://127.0.0.1:PORT`: pass it as the client's `baseUrl`. */
  get url(): string {
    return this.base;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Serves `operationId` with `handler` (throws on an id the description does not have). */
  handle(operationId: string, handler: Handler): this {
    this.spec.byOperationId(operationId);
    this.handlers.set(operationId, handler);
    return this;
  }

  use(handlers: Record<string, Handler>): this {
    for (const [id, handler] of Object.entries(handlers)) this.handle(id, handler);
    return this;
  }

  /**
   * Serves every path starting with `prefix` (which must not be an API path) with `handler`, e.g.
   * the storage a release-asset download redirects to. Requests are recorded without an operation.
   */
  outsideApi(prefix: string, handler: RawHandler): this {
    const taken = this.spec.match("GET", prefix);
    if (taken.op !== undefined || taken.pathMatched) throw new Error(`${prefix} is an API path`);
    this.raw.push({ prefix, handler });
    return this;
  }

  /** The next `times` requests to `operationId` get `fault` (after any faults already queued). */
  inject(operationId: string, fault: Fault, times = 1): this {
    this.spec.byOperationId(operationId);
    const queue = this.faults.get(operationId) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(operationId, queue);
    return this;
  }

  requestsFor(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  /** Returns the violations so far and forgets them (for tests that expect some). */
  takeViolations(): Violation[] {
    return this.violations.splice(0);
  }

  /** Throws one error listing every violation: a test that calls it fails on any. */
  assertNoViolations(): void {
    if (this.violations.length === 0) return;
    const lines = this.violations.map(
      (v) => `- [${v.kind}] ${v.method} ${v.path}${v.operationId ? ` (${v.operationId})` : ""}: ${v.message}`,
    );
    throw new Error(
      `${this.violations.length} request(s) outside GitHub's OpenAPI description:\n${lines.join("\n")}`,
    );
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const record = (status: number, operationId?: string, fault = false) =>
      this.requests.push({
        method,
        path: url.pathname,
        ...(operationId ? { operationId } : {}),
        status,
        at,
        fault,
      });
    const reject = (kind: ViolationKind, status: number, message: string, op?: SpecOperation) => {
      this.violate(kind, method, url.pathname + url.search, op?.operationId, message);
      record(status, op?.operationId);
      send(res, { status, body: { message, documentation_url: "https://docs.github.com/rest" } });
    };

    const raw = this.raw.find((r) => url.pathname.startsWith(r.prefix));
    if (raw) {
      res.once("finish", () => record(res.statusCode));
      return raw.handler(req, res, url);
    }
    const { op, params, pathMatched } = this.spec.match(method, url.pathname);
    if (op === undefined) {
      req.resume();
      const why = pathMatched ? `no ${method} operation on this path` : "no path template matches";
      return reject(pathMatched ? "method" : "unknown-route", 404, `Not Found (${why})`);
    }
    const pathCheck = this.spec.checkParams(op, "path", params);
    if (!pathCheck.ok) return reject("path-params", 404, pathCheck.errors.join("; "), op);
    const query = queryObject(url);
    const queryCheck = this.spec.checkParams(op, "query", query);
    if (!queryCheck.ok) return reject("query", 422, queryCheck.errors.join("; "), op);
    const cut = this.faults.get(op.operationId)?.[0]?.dropAfterBodyBytes;
    const socket = req.socket;
    const parsed: ParsedBody = await readBody(req, op, this.spec, this.closeBodies, cut);
    if (parsed.error) return reject(parsed.error.kind, parsed.error.status, parsed.error.message, op);

    const early = this.notBefore.get(op.operationId);
    if (early !== undefined) {
      this.notBefore.delete(op.operationId);
      if (at < early - EARLY_SLACK_MS) {
        const ms = Math.round(early - at);
        this.violate(
          "early-retry",
          method,
          url.pathname,
          op.operationId,
          `retried ${ms} ms before retry-after`,
        );
      }
    }

    const request: GitHubRequest = {
      operationId: op.operationId,
      method,
      template: op.template,
      params,
      query,
      body: parsed.body,
      ...(parsed.contentType ? { contentType: parsed.contentType } : {}),
      headers: req.headers,
      url,
      ...(parsed.truncated ? { interrupted: true } : {}),
    };
    const fault = this.faults.get(op.operationId)?.shift();
    if (fault && parsed.truncated) {
      await this.handlers.get(op.operationId)?.(request);
      record(fault.status, op.operationId, true);
      socket.destroy();
      return;
    }
    if (fault && !fault.afterCommit)
      return this.answerFault(res, fault, op, () => record(fault.status, op.operationId, true));
    const reply = await this.answer(request, op);
    if (fault) return this.answerFault(res, fault, op, () => record(fault.status, op.operationId, true));
    record(reply.status, op.operationId);
    send(res, reply);
  }

  private async answer(request: GitHubRequest, op: SpecOperation): Promise<Reply> {
    const handler = this.handlers.get(op.operationId);
    if (handler === undefined) return this.example(op, request);
    const reply = await handler(request);
    const problems = checkReply(this.spec, op, reply);
    if (problems.length > 0) {
      this.violate("response", request.method, request.url.pathname, op.operationId, problems.join("; "));
    }
    return reply;
  }

  /** The documented example for the operation's first success status. */
  private example(op: SpecOperation, request: GitHubRequest): Reply {
    const status = Object.keys(op.responses)
      .filter((s) => /^2\d\d$/.test(s))
      .sort()[0];
    if (status === undefined) return { status: 204 };
    const content = op.responses[status]?.content;
    if (content === undefined) return { status: Number(status) };
    const media = content["application/json"] ?? Object.values(content)[0];
    const example = this.spec.exampleOf(media);
    if (!example.found) {
      const message = `the description has no example for ${status}; register a handler for ${op.operationId}`;
      this.violate("no-example", request.method, request.url.pathname, op.operationId, message);
      return { status: 501, body: { message } };
    }
    return { status: Number(status), body: example.value };
  }

  private answerFault(res: ServerResponse, fault: Fault, op: SpecOperation, record: () => void): void {
    record();
    const retryAfter = Number(fault.headers?.["retry-after"]);
    const reset = Number(fault.headers?.["x-ratelimit-reset"]);
    if (retryAfter > 0) this.notBefore.set(op.operationId, performance.now() + retryAfter * 1000);
    else if (reset > 0) this.notBefore.set(op.operationId, performance.now() + (reset * 1000 - Date.now()));
    if (fault.reset) {
      res.socket?.destroy();
      return;
    }
    send(res, fault);
  }

  private violate(
    kind: ViolationKind,
    method: string,
    path: string,
    operationId: string | undefined,
    message: string,
  ) {
    this.violations.push({ kind, method, path, ...(operationId ? { operationId } : {}), message });
  }
}

/** Starts a server on a free port of 127.0.0.1. */
export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<GitHubServer> {
  return new GitHubServer(options).listen();
}

/**
 * One fresh server per test, closed after it; the test fails if any request broke the
 * description. `setup` runs on each new server (register handlers there).
 */
export function useGitHubServer(setup?: (server: GitHubServer) => void): () => GitHubServer {
  let current: GitHubServer | undefined;
  beforeEach(async () => {
    current = await startGitHubServer();
    setup?.(current);
  });
  afterEach(async () => {
    const server = current;
    current = undefined;
    if (server === undefined) return;
    await server.close();
    server.assertNoViolations();
  });
  return () => {
    if (current === undefined) throw new Error("useGitHubServer: no server outside a test");
    return current;
  };
}

function queryObject(url: URL): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  return query;
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { "x-github-request-id": "LOCAL:0000", ...reply.headers };
  let payload: Buffer | undefined;
  if (Buffer.isBuffer(reply.body)) {
    payload = reply.body;
    headers["content-type"] ??= "application/octet-stream";
  } else if (reply.body !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.body));
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  if (payload) headers["content-length"] = String(payload.length);
  res.writeHead(reply.status, headers);
  res.end(payload);
}
