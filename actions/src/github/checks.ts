/**
 * The farm's check run on a commit: a conclusion, a summary, and annotations on the lines that
 * failed. GitHub takes at most 50 annotations per request, so the run is created with the first
 * 50 and each further batch is appended with an update; the conclusion goes with the last request,
 * so nobody sees a finished check whose annotations are still arriving.
 */
import { type Logger, silentLogger } from "../core/logger.ts";
import type { GitHub } from "./client.ts";
import { CHECK_OUTPUT_LIMIT, clipBytes, clipChars } from "./clip.ts";
import { callGitHub, type GitHubOperation } from "./errors.ts";
import { retryIdempotent } from "./safe-writes.ts";

export const ANNOTATIONS_PER_REQUEST = 50;

export type CheckConclusion =
  | "success"
  | "failure"
  | "neutral"
  | "cancelled"
  | "skipped"
  | "timed_out"
  | "action_required";

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  /** Only when `start_line === end_line` (GitHub rejects columns across lines). */
  start_column?: number;
  end_column?: number;
  annotation_level: "notice" | "warning" | "failure";
  message: string;
  title?: string;
  raw_details?: string;
}

export interface CheckRunOptions {
  owner: string;
  repo: string;
  headSha: string;
  name: string;
  conclusion: CheckConclusion;
  title: string;
  /** Markdown; clipped to 65535 characters with a note. */
  summary: string;
  /** Markdown shown under the summary; clipped likewise. */
  text?: string;
  annotations?: readonly CheckAnnotation[];
  /** Where "Details" links to, e.g. the workflow run. */
  detailsUrl?: string;
  logger?: Logger;
  /** For the retry of the concluding update after a 5xx (safe-writes.ts). */
  settleMs?: number;
}

export interface CheckRunResult {
  id: number;
  url: string;
  /** Requests that carried annotations (create + updates). */
  annotationRequests: number;
}

const PERMISSION = "checks: write";

export async function publishCheckRun(gh: GitHub, options: CheckRunOptions): Promise<CheckRunResult> {
  const { owner, repo, name, conclusion } = options;
  const logger = options.logger ?? silentLogger;
  const output = {
    title: options.title,
    summary: clipChars(options.summary, CHECK_OUTPUT_LIMIT),
    ...(options.text !== undefined ? { text: clipChars(options.text, CHECK_OUTPUT_LIMIT) } : {}),
  };
  const batches = chunk((options.annotations ?? []).map(clipAnnotation), ANNOTATIONS_PER_REQUEST);
  const [first = [], ...rest] = batches;
  const done = rest.length === 0;

  // A POST: not retried on 5xx (a second check run would appear), so a failure here is thrown.
  const create: GitHubOperation = {
    action: `create check run "${name}" on ${options.headSha}`,
    permission: PERMISSION,
  };
  const { data: run } = await callGitHub(create, () =>
    gh.rest.checks.create({
      owner,
      repo,
      name,
      head_sha: options.headSha,
      ...(options.detailsUrl ? { details_url: options.detailsUrl } : {}),
      ...(done ? { status: "completed" as const, conclusion } : { status: "in_progress" as const }),
      output: { ...output, ...(first.length > 0 ? { annotations: first } : {}) },
    }),
  );

  const update: GitHubOperation = {
    action: `update check run ${run.id} ("${name}")`,
    permission: PERMISSION,
  };
  try {
    for (const [i, batch] of rest.entries()) {
      const last = i === rest.length - 1;
      // Appending annotations is not idempotent: a batch is sent once, and a failure ends the loop.
      await callGitHub(update, () =>
        gh.rest.checks.update({
          owner,
          repo,
          check_run_id: run.id,
          ...(last ? { status: "completed" as const, conclusion } : {}),
          output: { ...output, annotations: batch },
        }),
      );
    }
  } catch (error) {
    // Never leave the check "in progress" forever: conclude it (idempotent, so retried), then fail.
    logger.warn(`annotations for check run ${run.id} were cut short; concluding it without the rest`);
    await retryIdempotent(
      update,
      () =>
        gh.rest.checks.update({ owner, repo, check_run_id: run.id, status: "completed", conclusion, output }),
      { logger, ...(options.settleMs !== undefined ? { settleMs: options.settleMs } : {}) },
    );
    throw error;
  }
  logger.info(`check run "${name}": ${conclusion} (${run.html_url ?? run.url})`);
  return { id: run.id, url: run.html_url ?? run.url, annotationRequests: batches.length };
}

function clipAnnotation(a: CheckAnnotation): CheckAnnotation {
  const sameLine = a.start_line === a.end_line;
  const { start_column, end_column, ...rest } = a;
  return {
    ...rest,
    message: clipBytes(a.message, 64 * 1024),
    ...(a.title !== undefined ? { title: clipChars(a.title, 255, "…") } : {}),
    ...(a.raw_details !== undefined ? { raw_details: clipBytes(a.raw_details, 64 * 1024) } : {}),
    ...(sameLine && start_column !== undefined ? { start_column } : {}),
    ...(sameLine && end_column !== undefined ? { end_column } : {}),
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
