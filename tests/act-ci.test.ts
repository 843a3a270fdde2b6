/**
 * The project's own CI workflow (.github/workflows/ci.yml) on a real Actions engine (act,
 * tests/helpers/act.ts): a push to main runs checkout, setup-node, setup-python and the two caches
 * (doubles), `make setup`, the workflow checks, the bundle check and `make test`, all real.
 *
 * Everything ci.yml does runs offline here (the package registries are reachable; GitHub is not).
 * The one thing narrowed is the size of the inner `make test`: the job's environment names one
 * vitest file and one pytest file (the Makefile's VITEST_ARGS / PYTEST_ARGS), since the whole
 * suite inside the suite would take as long again. Typecheck and lint run in full.
 */
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { type ActWorld, actWorld, hasAct, runAct, VENV_SEED } from "./helpers/act.ts";
import { hasRealPython } from "./helpers/env.ts";

const ready = hasAct && hasRealPython;
const why = ready ? "" : " (skipped: needs act and the toolchain's Python)";

let world: ActWorld;

describe.runIf(ready)(`ci.yml under act${why}`, () => {
  beforeAll(async () => {
    world = await actWorld("octo-org/pte-farm");
  });
  afterAll(() => world?.dispose());

  it("a push to main: setup, the workflow checks, the bundle check and make test, each its own green step", async (ctx) => {
    const run = await runAct(world, {
      event: "push",
      workflow: "ci.yml",
      runId: "601",
      payload: { ref: "refs/heads/main", after: world.sha, repository: { full_name: world.repository } },
      // What an earlier run saved under ci.yml's keys: the venv, and the arm64 environment that
      // make setup would otherwise build (about two minutes).
      cacheSeed: [
        ...VENV_SEED,
        { prefix: "arm64-env-", path: ".cache/emu", from: path.join(REPO_ROOT, ".cache", "emu") },
      ],
      env: { VITEST_ARGS: "tests/stats.test.ts", PYTEST_ARGS: "tests/test_contract.py" },
      signal: ctx.signal,
    });
    const main = run.steps.filter((s) => s.stage === "Main").map((s) => [s.step, s.result]);
    expect(main, run.log).toEqual([
      ["actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "success"],
      ["actions/setup-node@820762786026740c76f36085b0efc47a31fe5020", "success"],
      ["actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97", "success"],
      ["actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae", "success"],
      ["actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae", "success"],
      ["make setup", "success"],
      ["Workflow checks (actionlint, zizmor, policy)", "success"],
      ["Bundle check", "success"],
      ["make test", "success"],
    ]);
    expect(run.jobs.map((j) => [j.job, j.result])).toEqual([["ci/make test", "success"]]);
    expect(run.exitCode).toBe(0);
    // The inner make test ran typecheck, lint, the named vitest file and the named pytest file.
    const log = stripVTControlCharacters(run.log);
    expect(log).toContain("npx tsc --noEmit -p tsconfig.json");
    expect(log).toContain("npx biome check .");
    expect(log).toMatch(/✓ tests\/stats\.test\.ts \(\d+ tests?\)/);
    expect(log).toMatch(/\] \d+ passed in /);
    expect(log).toContain("workflows: actionlint, zizmor (medium and above) and the policy found nothing");
  }, 1_800_000);
});
