import { it, expect } from "vitest";
import { actWorld, pushCommit, runAct } from "./helpers/act.ts";

it("scratch: farm-pr plan under act", async () => {
  const world = await actWorld();
  const farm = (await import("node:fs")).readFileSync("matrix/farm.yml", "utf8");
  const head = await pushCommit(world, "pr", { "matrix/farm.yml": farm.replace("  pull_request: { cells: nightly, only_affected: true }", "  pull_request: { cells: host, only_affected: true }").replace("board: host-cpu\n", "board: host-cpu-b\n") });
  const run = await runAct(world, {
    event: "pull_request",
    workflow: "farm-pr.yml",
    sha: head,
    runId: "101",
    cacheSeed: [{ prefix: "venv-", path: ".venv", from: "/work/main/.venv" }],
    env: { PTE_FARM_PYTHON: "/work/main/.venv/bin/python" },
    payload: { number: 7, pull_request: { number: 7, head: { sha: head, ref: "pr", repo: { full_name: world.repository } }, base: { sha: world.sha, ref: "main", repo: { full_name: world.repository } } } },
  });
  (await import("node:fs")).writeFileSync("/tmp/act-run-log.txt", run.log + "\n" + JSON.stringify(run.jobs, null, 1));
  console.log(run.log.split("\n").filter((l) => /\|| ::|rror|Job|set-output/.test(l)).slice(-150).join("\n"));
  console.log(JSON.stringify(run.jobs), run.exitCode);
  expect(run.exitCode).toBe(0);
}, 1_800_000);
