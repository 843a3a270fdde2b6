/**
 * Writes that survive GitHub's 5xx without doing anything twice.
 *
 * GitHub can store a write and still answer 502 (or the connection can drop after the write), so
 * the client does not retry non-idempotent methods (client.ts). Here the callers say how to redo
 * a write safely: a create looks first for what a failed attempt may have stored; a write that
 * sets state (a body, a title, a conclusion) is idempotent and is simply sent again.
 */
import type { Logger } from "../core/logger.ts";
import { explainGitHubError, type GitHubOperation, mayHaveCommitted, statusOf } from "./errors.ts";

export interface WriteOptions {
  logger: Logger;
  /**
   * Wait after a failed write before looking or trying again, so a write GitHub stored just
   * before failing has reached the replicas lists read from. Default 2000 ms; tests pass 0.
   */
  settleMs?: number;
  /** Attempts before giving up. Default 3. */
  attempts?: number;
}

/**
 * Creates with `create`; after a 5xx or a network error, `find` looks for what the failed attempt
 * may have stored, and only when it finds nothing is the create sent again. `recovered` says the
 * value came from `find`. Other errors (4xx) are thrown at once, explained.
 */
export async function createOnce<T>(
  operation: GitHubOperation,
  calls: { create: () => Promise<T>; find: () => Promise<T | undefined> },
  options: WriteOptions,
): Promise<{ value: T; recovered: boolean }> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await calls.create(), recovered: false };
    } catch (error) {
      if (!mayHaveCommitted(error) || attempt >= attempts) throw explainGitHubError(operation, error);
      options.logger.warn(
        `GitHub: ${operation.action} failed (HTTP ${statusOf(error)}); ` +
          "checking whether GitHub stored it before trying again",
      );
      await sleep(options.settleMs ?? 2000);
      const stored = await calls.find();
      if (stored !== undefined) {
        options.logger.info(`GitHub had stored it despite the error (${operation.action})`);
        return { value: stored, recovered: true };
      }
    }
  }
}

/** Sends an idempotent write again after a 5xx or a network error. */
export async function retryIdempotent<T>(
  operation: GitHubOperation,
  write: () => Promise<T>,
  options: WriteOptions,
): Promise<T> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!mayHaveCommitted(error) || attempt >= attempts) throw explainGitHubError(operation, error);
      options.logger.warn(`GitHub: ${operation.action} failed (HTTP ${statusOf(error)}); trying again`);
      await sleep(options.settleMs ?? 2000);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
