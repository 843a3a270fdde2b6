/**
 * No silent skips: a test whose environment is missing (the venv's Python, the shipped model,
 * cmark-gfm) skips on a developer's machine but fails under CI=true, as `.ci/run` sets it, so a
 * `make test` on a checkout where `make setup` broke cannot pass having tested little.
 */
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { required } from "./helpers/env.ts";

describe("required", () => {
  it("skips outside CI and throws under CI=true, naming what is missing", () => {
    expect(required(true, "x", { CI: "true" })).toBe(true);
    expect(required(false, "the toolchain's Python", {})).toBe(false);
    expect(() => required(false, "the toolchain's Python", { CI: "true" })).toThrow(
      "the toolchain's Python is missing under CI=true",
    );
  });

  it("makes a real end-to-end test file fail under CI=true when the venv is gone, and skip without CI", async () => {
    const run = (env: Record<string, string>) =>
      execa(path.join(REPO_ROOT, "node_modules", ".bin", "vitest"), ["run", "tests/e2e-gate.test.ts"], {
        cwd: REPO_ROOT,
        reject: false,
        env: { PTE_FARM_PYTHON: "/nonexistent/python", NO_COLOR: "1", FORCE_COLOR: "0", ...env },
        extendEnv: true,
      });
    const ci = await run({ CI: "true" });
    expect(ci.exitCode).not.toBe(0);
    expect(ci.stdout + ci.stderr).toContain("is missing under CI=true");
    const dev = await run({ CI: "" });
    expect(dev.exitCode).toBe(0);
    expect(dev.stdout + dev.stderr).toMatch(/Tests\s+\d+ skipped/);
  }, 120_000);
});
