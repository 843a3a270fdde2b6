/**
 * Rules on what a job may hold and pass on: expressions in scripts, permission scopes per job,
 * how long artefacts live, and the comment-writing workflow's concurrency. policy.ts lists them.
 */
import {
  asObj,
  granted,
  isObj,
  jobs,
  LEVEL,
  type PolicyFinding,
  type Rule,
  steps,
  triggers,
} from "./workflow.ts";

/**
 * run-expressions: a `run:` script never contains `${{ … }}`. The runner pastes an expression's
 * value into the script text before the shell sees it, so data (a matrix entry from the PR's own
 * branch, a branch name, a plan's JSON) becomes code; through `env:` it stays a variable's value.
 * zizmor rates this "info" for inputs it cannot trace, so it is the farm's own rule, with no
 * exceptions: even `runner.temp` goes through `$RUNNER_TEMP`.
 */
export const runExpressions: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) =>
      steps(job)
        .filter((s) => typeof s.run === "string" && /\$\{\{/.test(s.run))
        .map(
          (s): PolicyFinding => ({
            rule: "run-expressions",
            file: wf.name,
            message: `job ${id}, step ${String(s.id ?? s.name ?? "(unnamed)")}: \${{ ${/\$\{\{(.*?)\}\}/s.exec(String(s.run))?.[1]?.trim() ?? ""} }} in a run: script; pass it through env: and use the variable`,
          }),
        ),
    ),
  );

/**
 * job-permissions: the permission scopes each job may hold, by workflow file and job id. A scope
 * not listed here (at any level above `none`), or a level above the one listed, is a finding, so
 * adding `id-token: write` to farm-report or `actions: write` to the nightly issues job fails
 * review in CI. A job not listed may hold no scope at all: a new job states what it needs here.
 */
export const JOB_PERMISSIONS: Readonly<
  Record<string, Readonly<Record<string, Readonly<Record<string, "read" | "write">>>>>
> = {
  "ci.yml": { test: { contents: "read" } },
  "farm-pr.yml": {
    plan: { contents: "read" },
    build: { contents: "read" },
    device: { actions: "read", contents: "read" },
    watchdog: { actions: "read", contents: "read" },
    "cancel-queued": { actions: "write" },
    results: {},
  },
  "farm-build.yml": { build: { contents: "read" } },
  "farm-device.yml": { cell: { actions: "read", contents: "read" } },
  "farm-report.yml": { report: { actions: "read", checks: "write", "pull-requests": "write" } },
  "farm-nightly.yml": {
    plan: { contents: "read" },
    build: { contents: "read" },
    device: { actions: "read", contents: "read" },
    watchdog: { actions: "read", contents: "read" },
    "cancel-queued": { actions: "write" },
    history: { contents: "write" },
    confirm: { actions: "read", contents: "read" },
    issues: { contents: "read", issues: "write" },
    dashboard: { contents: "read" },
    pages: { pages: "write", "id-token": "write" },
  },
  "farm-upstream.yml": {
    resolve: { contents: "read" },
    run: { contents: "read" },
    history: { contents: "write" },
    issues: { contents: "read", issues: "write" },
  },
  "farm-release.yml": {
    plan: { contents: "read" },
    build: { contents: "read" },
    device: { actions: "read", contents: "read" },
    release: { contents: "write", "id-token": "write", attestations: "write" },
  },
};

export const jobPermissions: Rule = (all) =>
  [...all.values()].flatMap((wf) => {
    const table = JOB_PERMISSIONS[wf.name] ?? {};
    return jobs(wf).flatMap(([id, job]) => {
      const allowed = table[id] ?? {};
      return granted(job.permissions).flatMap(([scope, level]): PolicyFinding[] => {
        const have = LEVEL[level as keyof typeof LEVEL] ?? LEVEL.write;
        if (have === LEVEL.none) return [];
        const may = allowed[scope];
        if (may !== undefined && have <= LEVEL[may]) return [];
        return [
          {
            rule: "job-permissions",
            file: wf.name,
            message: `job ${id} holds ${scope}: ${level}; its allow-list (scripts/workflow-policy/hygiene.ts) has ${
              may === undefined ? `no ${scope}` : `${scope}: ${may}`
            }`,
          },
        ];
      });
    });
  });

/**
 * artifact-retention: every artefact upload sets `retention-days`, at most {@link MAX_RETENTION}:
 * build outputs and run records are handed between jobs and to farm-report within hours; the
 * history store and releases are where results are kept. The repository default (90 days) would
 * keep gigabytes of `.pte` files that nothing reads.
 */
export const MAX_RETENTION = 14;

export const artifactRetention: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) =>
      steps(job)
        .filter((s) => typeof s.uses === "string" && s.uses.startsWith("actions/upload-artifact@"))
        .flatMap((s): PolicyFinding[] => {
          const days = asObj(s.with)["retention-days"];
          if (typeof days === "number" && Number.isInteger(days) && days >= 1 && days <= MAX_RETENTION)
            return [];
          return [
            {
              rule: "artifact-retention",
              file: wf.name,
              message: `job ${id}: an upload-artifact step ${
                days === undefined ? "sets no retention-days" : `sets retention-days: ${String(days)}`
              }; set 1–${MAX_RETENTION} (results are kept in the history store, not in artefacts)`,
            },
          ];
        }),
    ),
  );

/**
 * comment-concurrency: a workflow that writes PR comments (triggered by `workflow_run`, as
 * farm-report is) has a concurrency group keyed by the pull request, without cancel-in-progress,
 * so two runs for one PR take turns on the sticky comment instead of racing to create two.
 */
export const commentConcurrency: Rule = (all) =>
  [...all.values()]
    .filter((wf) => triggers(wf).has("workflow_run"))
    .flatMap((wf): PolicyFinding[] => {
      const c = wf.doc.concurrency;
      const group = isObj(c) ? c.group : c;
      const problems: string[] = [];
      if (typeof group !== "string" || !/pull_requests\[0\]\.number|head_branch|head_sha/.test(group)) {
        problems.push(
          "has no concurrency group keyed by the pull request (e.g. github.event.workflow_run.pull_requests[0].number)",
        );
      }
      if (isObj(c) && c["cancel-in-progress"] === true) {
        problems.push("cancels a report in progress; a cancelled report leaves a stale comment");
      }
      return problems.map((message) => ({ rule: "comment-concurrency", file: wf.name, message }));
    });
