/**
 * The no-capacity watchdog: device jobs that never started because no runner with their labels is
 * online. GitHub keeps such a job queued for up to a day, and `timeout-minutes` does not count
 * queue time, so without this a nightly whose board is offline neither finishes nor says why.
 *
 * A watchdog job runs beside a workflow's device jobs and reads the run's jobs from the API
 * (github/jobs.ts). A planned cell's job is matched by name (farm-device.yml names it after the
 * cell; GitHub shows a called workflow's job as `<caller> (<matrix>) / <name>`):
 * - `in_progress` / `completed`: it started; nothing to do;
 * - `waiting`: it waits for a person (the `farm-hardware-fork` approval), not for a runner: not
 *   the watchdog's business;
 * - `queued` for at least the device's `max_queue_minutes`: no runner picked it up. Its cell gets
 *   an `infra-error` record, "no runner online for <labels>", with an `execute` stage so it counts
 *   toward the device's quarantine (quarantine.ts), and the run is cancelled so it can finish;
 * - `queued` for less: watched until it starts or its time is up;
 * - not listed: GitHub creates a called workflow's matrix jobs when the calling job starts, the
 *   same moment the watchdog becomes ready, so this is a job the watchdog cannot see (or a plan
 *   the jobs do not match): reported, not waited for.
 * Pure, apart from the clock the caller passes in.
 */
import type { Cell } from "../../../matrix/cells.ts";
import { buildRunRecord } from "../records/build.ts";
import type { Role, RunRecord } from "../schemas/run-record.ts";

/** What the watchdog needs of a GitHub job (`GET /repos/{o}/{r}/actions/runs/{id}/attempts/{n}/jobs`). */
export interface RunJob {
  name: string;
  status: string;
  created_at: string;
  labels: string[];
}

/** A planned device cell (the plan's `devices` entry) with its device's queue limit. */
export interface WatchedCell {
  cell: string;
  /** The plan's build id and device: the artefact folder is `<build>-<device>`, as farm-device's. */
  build: string;
  device: string;
  runs_on: string[];
  maxQueueMinutes: number;
}

export type CellWatch =
  | { cell: WatchedCell; state: "started" | "awaiting-approval" | "unlisted" }
  | { cell: WatchedCell; state: "queued"; since: Date; until: Date }
  | { cell: WatchedCell; state: "no-runner"; since: Date; labels: string[] };

/** The job of a cell: named after it, alone or as the last part of a called workflow's job name. */
export function jobOf(cell: string, jobs: readonly RunJob[]): RunJob | undefined {
  const mine = jobs.filter((j) => j.name === cell || j.name.endsWith(` / ${cell}`));
  // filter=latest lists one per name; a re-run attempt's jobs otherwise: the newest.
  return mine.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
}

export function watchCells(cells: readonly WatchedCell[], jobs: readonly RunJob[], now: Date): CellWatch[] {
  return cells.map((cell): CellWatch => {
    const job = jobOf(cell.cell, jobs);
    if (job === undefined) return { cell, state: "unlisted" };
    if (job.status === "waiting") return { cell, state: "awaiting-approval" };
    if (job.status !== "queued" && job.status !== "pending" && job.status !== "requested")
      return { cell, state: "started" };
    const since = new Date(job.created_at);
    const until = new Date(since.getTime() + cell.maxQueueMinutes * 60_000);
    if (now < until) return { cell, state: "queued", since, until };
    return { cell, state: "no-runner", since, labels: job.labels.length > 0 ? job.labels : cell.runs_on };
  });
}

/** When to look again: the earliest end of a queued cell's wait; null when nothing is left to watch. */
export function nextLook(watch: readonly CellWatch[]): Date | null {
  const ends = watch.flatMap((w) => (w.state === "queued" ? [w.until.getTime()] : []));
  return ends.length === 0 ? null : new Date(Math.min(...ends));
}

/** The sentence a report shows for a cell that never started. */
export function noRunnerMessage(labels: readonly string[], since: Date, now: Date, limitMinutes: number) {
  const waited = Math.round((now.getTime() - since.getTime()) / 60_000);
  return (
    `no runner online for [${labels.join(", ")}]: the device job waited ${waited} min in GitHub's queue ` +
    `(limit ${limitMinutes} min, matrix max_queue_minutes)`
  );
}

/** The `infra-error` record of a cell whose job no runner picked up. */
export function noRunnerRecord(args: {
  cell: Cell;
  watch: Extract<CellWatch, { state: "no-runner" }>;
  now: Date;
  role: Role;
  session: string;
  gitSha: string | null;
}): RunRecord {
  const { cell, watch, now } = args;
  const message = noRunnerMessage(watch.labels, watch.since, now, watch.cell.maxQueueMinutes);
  const failure = {
    stage: "execute",
    outcome: "infra-failure",
    message,
    known_issue: null,
    triage:
      "infrastructure, not the model: no runner with these labels took the job (board offline, its runner " +
      "service stopped, or its runner group does not allow this repository). The watchdog cancelled the " +
      "run's wait; the device's quarantine counts this.",
    reproduce: `node actions/src/cli/pte-farm.ts run --cells '${cell.id}'   # on the device, once it is online`,
  };
  return buildRunRecord({
    cell,
    session: args.session,
    role: args.role,
    gitSha: args.gitSha,
    startedAt: watch.since.toISOString(),
    finishedAt: now.toISOString(),
    steps: [
      {
        stage: "execute",
        label: cell.id,
        kind: "infra-failure",
        cache: "off",
        dir: "",
        logPath: null,
        wallMs: 0,
        result: null,
        data: null,
        reason: message,
        failure,
      },
    ],
    device: {
      runner: cell.device.runner,
      board: cell.device.board,
      hostname: "",
      os: cell.device.os,
      kernel: "",
      arch: cell.device.arch,
      cpu: "",
      cpus: 0,
      memory_mb: 0,
    },
    telemetry: [],
    buildToolchain: null,
    deviceToolchain: null,
    reference: null,
    execute: null,
    gate: null,
    failure: null,
  });
}
