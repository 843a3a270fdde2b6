/**
 * Canaries with the real toolchain: the matrix's canaries for known issues 5 (torchao's CPU INT4
 * weight-only path) and 6 (torchao's affine ops on the portable backend without the farm's
 * decomposition) fail as catalogued on the pinned toolchain, through `pte-farm canaries` and the
 * real stages. A third canary, added by the test, points at a cell that the farm's decomposition
 * fixed: it stops reproducing, and the report says "possibly fixed upstream" with the catalogue
 * diff, which applies to matrix/known-issues.yml and leaves it valid.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boundedRange, editAppliesTo, widenedRange } from "../actions/src/canaries/verdicts.ts";
import { KNOWN_ISSUES_FILE, REPO_ROOT } from "../actions/src/core/paths.ts";
import { loadKnownIssues } from "../matrix/known-issues.ts";
import { hasRealPython, hasTinyLlama, pinnedVersion, tempDir } from "./helpers/env.ts";

describe("applies_to proposals", () => {
  it("bounds a range above the version a canary passed with, and widens one it reproduced outside", () => {
    expect(boundedRange(">=0.17.0", "0.19.0")).toBe(">=0.17.0 <0.19.0");
    expect(boundedRange("*", "2.0.0+cpu")).toBe("<2.0.0");
    expect(boundedRange(">=1.2.0 <1.4.0", "1.5.0")).toBe(">=1.2.0 <1.4.0"); // already outside
    expect(boundedRange(">=1.2.0 <2.0.0", "1.5.0")).toBe(">=1.2.0 <1.5.0");
    expect(widenedRange(">=0.17.0", "0.16.0")).toBe(">=0.16.0");
    expect(widenedRange(">=1.2.0 <1.4.0", "1.4.1")).toBe(">=1.2.0");
  });

  it("edits only the issue's ranges in the catalogue, comments and layout kept", async () => {
    const text = await readFile(KNOWN_ISSUES_FILE, "utf8");
    const edited = editAppliesTo(text, "torchao-cpu-int4-removed", { torchao: ">=0.17.0 <0.19.0" });
    const changed = edited.split("\n").filter((l, i) => l !== text.split("\n")[i]);
    expect(changed).toEqual(['      torchao: ">=0.17.0 <0.19.0"']);
    const dir = await tempDir();
    await writeFile(path.join(dir, "known-issues.yml"), edited);
    const issues = await loadKnownIssues(path.join(dir, "known-issues.yml"));
    expect(issues.find((i) => i.id === "torchao-cpu-int4-removed")?.appliesTo).toEqual({
      torchao: ">=0.17.0 <0.19.0",
    });
  });
});

describe.skipIf(!hasRealPython || !hasTinyLlama)(
  "pte-farm canaries on the pinned toolchain (real stages)",
  () => {
    let dir: string;
    let out: string;
    let result: Awaited<ReturnType<typeof execa>>;
    let json: {
      results: { knownIssue: string; cell: string; state: string; summary: string }[];
      proposals: { knownIssue: string; ranges: Record<string, string>; diff: string }[];
    };

    beforeAll(async () => {
      // Not tempDir(): that is removed after each test, and both tests read this run.
      dir = await mkdtemp(path.join(tmpdir(), "pte-farm-canaries-"));
      const farm = await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8");
      // A canary whose cell the farm already fixed (the portable backend decomposes torchao's ops).
      const matrix = path.join(dir, "farm.yml");
      await writeFile(
        matrix,
        farm.replace(
          "canaries:\n",
          "canaries:\n  - known_issue: torchao-quantized-embedding-no-out-variants\n    cell: tiny-llama/8da4w-g32/portable/host-x86_64\n    stage: lower\n",
        ),
      );
      out = path.join(dir, "run");
      result = await execa(
        "node",
        [
          path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
          "canaries",
          "--toolchains",
          "stable",
          "--matrix",
          matrix,
          "--out",
          out,
        ],
        {
          reject: false,
          all: true,
          env: { PTE_FARM_CACHE: path.join(dir, "cache") },
        },
      );
      json = JSON.parse(await readFile(path.join(out, "canaries.json"), "utf8"));
    }, 900_000);

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("reproduces known issues 5 and 6 at their stages, named by the known issue", () => {
      expect(result.exitCode, String(result.all)).toBe(0);
      const state = (cell: string) => json.results.find((r) => r.cell === cell);
      expect(state("tiny-llama/int4-weight-only/xnnpack/host-x86_64@stable")).toMatchObject({
        knownIssue: "torchao-cpu-int4-removed",
        state: "reproduces",
      });
      expect(state("tiny-llama/8da4w-g32/portable-raw/host-x86_64@stable")).toMatchObject({
        knownIssue: "torchao-quantized-embedding-no-out-variants",
        state: "reproduces",
      });
      expect(state("tiny-llama/int4-weight-only/xnnpack/host-x86_64@stable")?.summary).toContain(
        `torchao ${pinnedVersion("torchao")}`,
      );
    });

    it("says possibly fixed upstream for a canary that passes, with the catalogue diff", async () => {
      const fixed = json.results.find((r) => r.cell === "tiny-llama/8da4w-g32/portable/host-x86_64@stable");
      expect(fixed?.state).toBe("no-longer-reproduces");
      expect(fixed?.summary).toMatch(
        new RegExp(
          `known issue torchao-quantized-embedding-no-out-variants no longer reproduces with torchao ${pinnedVersion("torchao").replaceAll(".", "\\.")}.* — possibly fixed upstream`,
        ),
      );
      const proposal = json.proposals.find(
        (p) => p.knownIssue === "torchao-quantized-embedding-no-out-variants",
      );
      expect(proposal?.ranges.torchao).toBe(`>=0.17.0 <${pinnedVersion("torchao")}`);
      expect(proposal?.diff).toContain(`+      torchao: ">=0.17.0 <${pinnedVersion("torchao")}"`);
      const md = await readFile(path.join(out, "canaries.md"), "utf8");
      expect(md).toContain("possibly fixed upstream");
      expect(md).toContain("```diff");
      // The diff applies to the catalogue as it is (git apply --check, in a scratch copy of the repo's file).
      const scratch = await tempDir();
      await execa("git", ["init", "-q", scratch]);
      await execa("mkdir", ["-p", path.join(scratch, "matrix")]);
      await writeFile(
        path.join(scratch, "matrix", "known-issues.yml"),
        await readFile(KNOWN_ISSUES_FILE, "utf8"),
      );
      await writeFile(path.join(scratch, "fix.diff"), proposal?.diff ?? "");
      const check = await execa("git", ["apply", "--check", "fix.diff"], {
        cwd: scratch,
        reject: false,
        all: true,
      });
      expect(check.exitCode, String(check.all)).toBe(0);
    });
  },
);
