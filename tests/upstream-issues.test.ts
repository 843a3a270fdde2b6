/**
 * farm-upstream's issue lifecycle against GitHub's OpenAPI description (the local validating
 * server of tests/helpers/github-server.ts): over several runs, one issue per (package, first bad
 * release) is opened from a bisection, kept while the breakage lasts and closed when the cell passes
 * on a later release; one issue per known issue whose canary says "possibly fixed upstream" carries
 * the catalogue diff and is closed when the canary agrees with the catalogue again.
 */
import { describe, expect, it } from "vitest";
import type { BisectRecord } from "../actions/src/bisect/record.ts";
import type { CanaryResult } from "../actions/src/canaries/verdicts.ts";
import { syncUpstreamIssues } from "../actions/src/publish/upstream-issues.ts";
import { useGitHubRepo } from "./helpers/github-fixture.ts";
import { sampleRecord } from "./helpers/record.ts";

const CELL = "tiny-llama/8da4w-g32/xnnpack/host-x86_64@latest";

function bisection(firstBad: string): BisectRecord {
  return {
    schema: "pte-farm/bisect@1",
    subject: `cell ${CELL}`,
    metric: null,
    good: { id: "aaaaaaaaaaaaaaaa", toolchain: "stable", versions: "executorch 1.4.1" },
    bad: { id: "bbbbbbbbbbbbbbbb", toolchain: "latest", versions: "executorch 1.7.0" },
    changed: ["executorch 1.4.1 → 1.7.0"],
    verdict: "found",
    package: "executorch",
    last_good: "1.5.1",
    first_bad: firstBad,
    untestable: [],
    evidence: { stage: "lower", signature: "known issue x", detail: "RuntimeError: Missing out variants" },
    builds: 4,
    released_between: 3,
    steps: [],
    reproduce: `node actions/src/cli/pte-farm.ts run --cells '${CELL}' --lock out/locks/x.json`,
    started_at: "2026-12-06T02:00:00.000Z",
    finished_at: "2026-12-06T02:10:00.000Z",
    wall_s: 600,
  };
}

function canary(state: CanaryResult["state"]): CanaryResult {
  return {
    knownIssue: "torchao-cpu-int4-removed",
    cell: "tiny-llama/int4-weight-only/xnnpack/host-x86_64@latest",
    toolchain: "latest",
    lock: null,
    state,
    summary:
      state === "no-longer-reproduces"
        ? "known issue torchao-cpu-int4-removed no longer reproduces with torchao 0.19.0 — possibly fixed upstream"
        : "known issue torchao-cpu-int4-removed reproduces with torchao 0.19.0",
    versions: { torchao: "0.19.0" },
  };
}

const DIFF =
  '--- a/matrix/known-issues.yml\n+++ b/matrix/known-issues.yml\n@@ -1 +1 @@\n-      torchao: ">=0.17.0"\n+      torchao: ">=0.17.0 <0.19.0"\n';

describe("farm-upstream issues against GitHub's OpenAPI description (local server)", () => {
  const repo = useGitHubRepo();

  it("opens one issue per first bad release and per possibly-fixed known issue, keeps them, and closes them when fixed", async () => {
    const { gh, state, owner, repo: name, logger } = repo();
    const base = { owner, repo: name, logger, settleMs: 0, runUrl: "https://github.com/o/r/actions/runs/1" };
    const failing = sampleRecord({
      cell: {
        id: CELL,
        model: "tiny-llama",
        recipe: "8da4w-g32",
        backend: "xnnpack",
        device: "host-x86_64",
        toolchain: "latest",
      },
      status: "fail",
    });
    const passing = {
      ...failing,
      status: "pass" as const,
      toolchain: { name: "latest", build: { executorch: "1.7.1" }, device: null },
    };

    // Night 1: a bisection names executorch 1.6.0; the int4 canary stops reproducing.
    const night1 = await syncUpstreamIssues(gh, {
      ...base,
      bisects: [bisection("1.6.0")],
      canaries: {
        results: [canary("no-longer-reproduces")],
        proposals: [{ knownIssue: "torchao-cpu-int4-removed", diff: DIFF }],
      },
      records: [failing],
    });
    expect(night1.map((i) => [i.kind, i.key, i.action])).toEqual([
      ["breakage", "executorch==1.6.0", "created"],
      ["canary", "torchao-cpu-int4-removed", "created"],
    ]);
    const breakage = state.issues.find((i) => i.title.startsWith("executorch 1.6.0 breaks"));
    expect(breakage?.title).toBe(`executorch 1.6.0 breaks ${CELL} (lower)`);
    expect(breakage?.body).toContain("**executorch 1.6.0** first breaks it");
    expect(breakage?.labels.map((l) => (typeof l === "string" ? l : l.name))).toEqual([
      "pte-farm",
      "upstream",
    ]);
    const canaryIssue = state.issues.find((i) => i.title.startsWith("Known issue"));
    expect(canaryIssue?.title).toBe(
      "Known issue torchao-cpu-int4-removed possibly fixed upstream (torchao 0.19.0)",
    );
    expect(canaryIssue?.body).toContain("```diff");
    expect(canaryIssue?.body).toContain('+      torchao: ">=0.17.0 <0.19.0"');

    // Night 2: the same answers: nothing new is opened, nothing notifies.
    const night2 = await syncUpstreamIssues(gh, {
      ...base,
      bisects: [bisection("1.6.0")],
      canaries: {
        results: [canary("no-longer-reproduces")],
        proposals: [{ knownIssue: "torchao-cpu-int4-removed", diff: DIFF }],
      },
      records: [failing],
    });
    expect(night2.map((i) => i.action)).toEqual(["none", "none"]);
    expect(state.issues.filter((i) => i.state === "open")).toHaveLength(2);

    // Night 3: no new bisection, the cell passes with a later release; the catalogue was updated so the canary agrees.
    const night3 = await syncUpstreamIssues(gh, {
      ...base,
      bisects: [],
      canaries: { results: [canary("reproduces")], proposals: [] },
      records: [passing],
    });
    expect(night3.map((i) => [i.kind, i.action, i.state])).toEqual([
      ["breakage", "closed", "resolved"],
      ["canary", "closed", "resolved"],
    ]);
    expect(state.issues.every((i) => i.state === "closed")).toBe(true);
    const note = state.comments.find((c) => c.issue_number === breakage?.number)?.body ?? "";
    expect(note).toContain("passes again with executorch 1.7.1");

    // Night 4: a new first bad release is a new issue, never the closed one reopened.
    const night4 = await syncUpstreamIssues(gh, {
      ...base,
      bisects: [bisection("1.8.0")],
      canaries: null,
      records: [failing],
    });
    expect(night4.map((i) => [i.key, i.action])).toEqual([["executorch==1.8.0", "created"]]);
    expect(state.issues.filter((i) => i.state === "open").map((i) => i.title)).toEqual([
      `executorch 1.8.0 breaks ${CELL} (lower)`,
    ]);
  });
});
