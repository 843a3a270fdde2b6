/**
 * Per-test wiring for the GitHub client tests: a fresh local GitHub server holding an in-memory
 * repository (issues, comments, check runs, releases), and the farm's real client pointed at it
 * with test-sized delays. The test fails after the fact if any request broke GitHub's OpenAPI
 * description.
 */

import { RecordingLogger } from "../../actions/src/core/logger.ts";
import { createGitHub, type GitHub } from "../../actions/src/github/client.ts";
import { ReleaseStore } from "./github-release-state.ts";
import { RepoState } from "./github-repo-state.ts";
import { type GitHubServer, useGitHubServer } from "./github-server.ts";

export interface GitHubRepoFixture {
  server: GitHubServer;
  state: RepoState;
  /** The repository's releases and their assets (and the object store downloads redirect to). */
  releases: ReleaseStore;
  gh: GitHub;
  logger: RecordingLogger;
  owner: string;
  repo: string;
}

/** Client options for tests: retries stay real, delays shrink to milliseconds. */
export function testClient(server: GitHubServer, logger: RecordingLogger, retries = 2): GitHub {
  return createGitHub({
    token: "ghs_local-test-token",
    baseUrl: server.url,
    logger,
    retries,
    minRetryDelayMs: 5,
    minWriteIntervalMs: 0,
  });
}

export function useGitHubRepo(): () => GitHubRepoFixture {
  let fixture: GitHubRepoFixture | undefined;
  const server = useGitHubServer((s) => {
    const state = new RepoState();
    s.use(state.handlers());
    const releases = new ReleaseStore(state.owner, state.repo, { origin: s.url });
    releases.register(s);
    const logger = new RecordingLogger();
    fixture = {
      server: s,
      state,
      releases,
      gh: testClient(s, logger),
      logger,
      owner: state.owner,
      repo: state.repo,
    };
  });
  return () => {
    server();
    if (fixture === undefined) throw new Error("useGitHubRepo: no fixture outside a test");
    return fixture;
  };
}
