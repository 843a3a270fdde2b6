/** A run record's `session`: the workflow run and attempt, so a re-run is a new session; a random one outside Actions. */
import { randomBytes } from "node:crypto";

export function defaultSession(env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_RUN_ID) return `gh-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? "1"}`;
  return `local-${new Date()
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replaceAll(":", "-")}-${randomBytes(3).toString("hex")}`;
}
