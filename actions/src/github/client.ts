/**
 * The farm's GitHub client: octokit with GitHub's retry and throttling plugins, configured so a
 * retry can never do harm.
 *
 * - Rate limits (403/429 with "secondary rate limit", or `x-ratelimit-remaining: 0`) wait as long
 *   as GitHub says (`retry-after`, or until `x-ratelimit-reset`) and retry at most `retries` times.
 *   A rate-limited request was not processed, so this is safe for every method.
 * - 5xx and network errors are retried only for methods that are idempotent by HTTP's definition
 *   (GET, HEAD, PUT, DELETE, OPTIONS). Not POST: a POST that failed with 502 may have been
 *   committed, so callers decide (see `upsertStickyComment`). Not PATCH either: a check-run PATCH
 *   appends its annotations, so sending it twice duplicates them.
 * - 400, 401, 403 without a rate limit, 404, 410, 422 and 451 are never retried: the same request
 *   would fail the same way.
 *
 * Domain code receives a {@link GitHub} from its caller and never builds one.
 */
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import type { Logger } from "../core/logger.ts";

const FarmOctokit = Octokit.plugin(retry, throttling);

/** The client domain code is handed. */
export type GitHub = InstanceType<typeof FarmOctokit>;

export interface GitHubClientOptions {
  token: string;
  /** Default https://api.github.com; GHES or the local test server otherwise. */
  baseUrl?: string;
  logger: Logger;
  /** Retries after a rate limit, or after a 5xx/network error of an idempotent request. Default 3. */
  retries?: number;
  /** The n-th retry after a 5xx waits n² × this. Default 1000 ms; tests pass a few ms. */
  minRetryDelayMs?: number;
  /**
   * Spacing between writes. GitHub asks integrators to leave ≥ 1 s between mutating requests (and
   * the throttling plugin waits 3 s between notification-triggering ones such as comments); that
   * default is kept unless this is given (tests pass 0).
   */
  minWriteIntervalMs?: number;
  userAgent?: string;
}

const NEVER_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

export function createGitHub(options: GitHubClientOptions): GitHub {
  const { logger } = options;
  const retries = options.retries ?? 3;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      const retrying = retryCount < retries;
      logger.warn(
        `GitHub ${kind} rate limit on ${request.method} ${request.url}: ` +
          (retrying ? `retrying in ${retryAfter} s (retry ${retryCount + 1} of ${retries})` : "giving up"),
      );
      return retrying;
    };
  const spacing =
    options.minWriteIntervalMs === undefined
      ? {}
      : {
          write: spacedQueue(options.minWriteIntervalMs),
          notifications: spacedQueue(options.minWriteIntervalMs),
        };
  const octokit = new FarmOctokit({
    auth: options.token,
    ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, "") } : {}),
    userAgent: options.userAgent ?? "pte-farm",
    log: {
      debug: () => {},
      info: () => {},
      warn: (message: string) => logger.warn(message),
      // octokit logs every failed attempt, retried or not; the final failure is thrown to the caller.
      error: (message: string) => logger.warn(`GitHub API: ${message}`),
    },
    retry: { retries, doNotRetry: NEVER_RETRY, retryAfterBaseValue: options.minRetryDelayMs ?? 1000 },
    throttle: {
      onRateLimit: onLimit("primary"),
      onSecondaryRateLimit: onLimit("secondary"),
      ...spacing,
    },
  });
  octokit.hook.before("request", (request) => {
    if (!IDEMPOTENT.has(request.method)) request.request = { ...request.request, retries: 0 };
  });
  return octokit;
}

/**
 * A stand-in for the throttling plugin's Bottleneck groups (`key(id).schedule(options, fn, ...args)`):
 * one request at a time with at least `minIntervalMs` between starts. Bottleneck is not a
 * dependency of ours, only of the plugin.
 */
function spacedQueue(minIntervalMs: number): never {
  let tail: Promise<unknown> = Promise.resolve();
  let lastStart = 0;
  const limiter = {
    schedule<T>(_options: unknown, fn: (...args: unknown[]) => Promise<T>, ...args: unknown[]): Promise<T> {
      const run = tail.then(async () => {
        const wait = lastStart + minIntervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        lastStart = Date.now();
        return fn(...args);
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
  return { key: () => limiter } as never;
}
