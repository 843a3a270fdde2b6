/**
 * A workflow run's jobs, as the no-capacity watchdog reads them (health/watchdog.ts): name,
 * status, when it was queued and its runs-on labels. One attempt's jobs, every page.
 */
import type { RunJob } from "../health/watchdog.ts";
import type { GitHub } from "./client.ts";
import { callGitHub } from "./errors.ts";

export async function listRunJobs(
  gh: GitHub,
  args: { owner: string; repo: string; runId: number; attempt: number },
): Promise<RunJob[]> {
  const operation = {
    action: `list the jobs of run ${args.runId} (attempt ${args.attempt}) in ${args.owner}/${args.repo}`,
    permission: "actions: read",
  };
  const jobs = await callGitHub(operation, () =>
    gh.paginate(gh.rest.actions.listJobsForWorkflowRunAttempt, {
      owner: args.owner,
      repo: args.repo,
      run_id: args.runId,
      attempt_number: args.attempt,
      per_page: 100,
    }),
  );
  return jobs.map((j) => ({ name: j.name, status: j.status, created_at: j.created_at, labels: j.labels }));
}
