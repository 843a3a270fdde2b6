/**
 * Reads a request body and holds it to the operation's `requestBody`: the content type must be
 * one the operation accepts, JSON must parse and match the schema, a required body must be there.
 * Anything that is not JSON (release asset uploads are `application/octet-stream`) is handed to
 * the handler as a Buffer, or a string for `text/*`.
 */
import type { IncomingMessage } from "node:http";
import type { GitHubOpenApi, SpecOperation } from "./github-openapi.ts";
import type { ViolationKind } from "./github-server.ts";

export interface ParsedBody {
  body?: unknown;
  contentType?: string;
  /** Set when reading stopped at `limit` bytes: `body` holds only what arrived before the cut. */
  truncated?: boolean;
  error?: { kind: ViolationKind; status: number; message: string };
}

export async function readBody(
  req: IncomingMessage,
  op: SpecOperation,
  spec: GitHubOpenApi,
  closeObjects: boolean,
  /** Stop after this many bytes (a connection cut mid-body); the rest is never read. */
  limit?: number,
): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  let received = 0;
  let truncated = false;
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
    received += (chunk as Buffer).length;
    if (limit !== undefined && received >= limit) {
      truncated = true;
      break;
    }
  }
  const whole = Buffer.concat(chunks);
  const raw = truncated ? whole.subarray(0, limit) : whole;
  const contentType = req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (truncated) return { ...(contentType ? { contentType } : {}), body: raw, truncated };
  const accepted = op.requestBody?.content ?? {};
  if (raw.length === 0) {
    if (op.requestBody?.required) return fail("body", 422, "a request body is required");
    return {};
  }
  if (op.requestBody === undefined) return fail("body", 400, "this operation takes no request body");
  const mediaType = contentType && pickMedia(Object.keys(accepted), contentType);
  if (!mediaType) {
    const message = `content-type ${contentType ?? "(none)"} is not accepted; expected ${Object.keys(accepted).join(" or ")}`;
    return fail("content-type", 415, message);
  }
  const media = accepted[mediaType];
  if (!/^application\/(.+\+)?json$/.test(mediaType)) {
    return { contentType, body: contentType.startsWith("text/") ? raw.toString("utf8") : raw };
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    return fail("body", 400, `Problems parsing JSON (${(error as Error).message})`);
  }
  const schema = media?.schema;
  if (schema !== undefined) {
    const key = `${op.operationId} body ${mediaType}`;
    const check = spec.check(key, () => schema, body, "body", closeObjects);
    if (!check.ok) return fail("body", 422, `Invalid request: ${check.errors.join("; ")}`);
  }
  return { contentType, body };
}

/** Exact media type first, then `type/*`, then `*\/*`. */
function pickMedia(accepted: string[], contentType: string): string | undefined {
  const [type] = contentType.split("/");
  return accepted.find((m) => m === contentType) ?? accepted.find((m) => m === `${type}/*` || m === "*/*");
}

function fail(kind: ViolationKind, status: number, message: string): ParsedBody {
  return { error: { kind, status, message } };
}
