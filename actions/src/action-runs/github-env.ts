/**
 * The facts GitHub's runner puts in the environment (GITHUB_REPOSITORY, GITHUB_SHA, …): actions
 * that talk to GitHub read them here, never from an input or an artefact a PR could shape.
 */
import { ConfigurationError } from "../core/errors.ts";

export function runnerEnv(name: string, what: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") throw new ConfigurationError(`${name} is not set: ${what}`);
  return v;
}

/** GITHUB_REPOSITORY as owner and repo. */
export function repository(): { owner: string; repo: string } {
  const full = runnerEnv("GITHUB_REPOSITORY", "the runner sets it to owner/repo");
  const [owner, repo, extra] = full.split("/");
  if (!owner || !repo || extra !== undefined) {
    throw new ConfigurationError(`GITHUB_REPOSITORY ${JSON.stringify(full)} is not owner/repo`);
  }
  return { owner, repo };
}

/** The API root: GITHUB_API_URL on the runner (GitHub Enterprise has its own), else api.github.com. */
export function apiUrl(): string {
  return process.env.GITHUB_API_URL || "https://api.github.com";
}

/** This workflow run's page, or null outside a runner. */
export function runLink(owner: string, repo: string): { id: number; url: string } | null {
  const id = Number(process.env.GITHUB_RUN_ID);
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const server = process.env.GITHUB_SERVER_URL || "https://github.com";
  return { id, url: `${server}/${owner}/${repo}/actions/runs/${id}` };
}
