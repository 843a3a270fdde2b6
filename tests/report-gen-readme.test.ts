import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { PR_COMMENT_MARKER } from "../reports/pr-comment.ts";
import { END, exampleSection, START, splice } from "../scripts/gen-readme-comment.ts";
import { tempDir } from "./helpers/env.ts";

const SCRIPT = path.join(REPO_ROOT, "scripts", "gen-readme-comment.ts");

/** Runs the script as CI would; resolves with its exit code and output whatever the code. */
async function gen(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const README = [
  "# pte-farm",
  "",
  "Intro.",
  "",
  START,
  "old, hand-written example",
  END,
  "",
  "## Next",
  "",
].join("\n");

describe("gen-readme-comment", () => {
  it("writes the rendered comment between the markers and leaves the rest of the file alone", async () => {
    const file = path.join(await tempDir(), "README.md");
    await writeFile(file, README);
    expect((await gen("--check", file)).code).toBe(1);
    const written = await gen(file);
    expect(written.code).toBe(0);
    const text = await readFile(file, "utf8");
    expect(text.startsWith("# pte-farm\n\nIntro.\n\n<!-- example-comment:start -->\n")).toBe(true);
    expect(text.endsWith("<!-- example-comment:end -->\n\n## Next\n")).toBe(true);
    expect(text).not.toContain("hand-written");
    expect(text).toContain(PR_COMMENT_MARKER);
    expect(text).toContain("```mermaid");
    expect((await gen("--check", file)).code).toBe(0);
  });

  it("is deterministic: a second run changes nothing", async () => {
    const file = path.join(await tempDir(), "README.md");
    await writeFile(file, README);
    await gen(file);
    const first = await readFile(file, "utf8");
    const again = await gen(file);
    expect(again.stdout).toContain("already up to date");
    expect(await readFile(file, "utf8")).toBe(first);
  });

  it("keeps the docs' example comment what the code renders now (make readme-example)", async () => {
    const r = await gen("--check", path.join(REPO_ROOT, "docs", "pr-comment.md"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("--check says how to fix a stale file and exits 1, changing nothing", async () => {
    const file = path.join(await tempDir(), "README.md");
    await writeFile(file, README);
    const r = await gen("--check", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `the example comment is stale; run node scripts/gen-readme-comment.ts ${file}`,
    );
    expect(await readFile(file, "utf8")).toBe(README);
  });

  it("exits 2 naming the markers when the file lacks them", async () => {
    const file = path.join(await tempDir(), "README.md");
    await writeFile(file, "# no markers\n");
    const r = await gen("--check", file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(START);
  });

  it("refuses markers that are duplicated or out of order", () => {
    expect(() => splice(`${END}\n${START}\n`, "x")).toThrow(ConfigurationError);
    expect(() => splice(`${START}\n${START}\n${END}\n`, "x")).toThrow(/once each/);
  });

  it("shows, from run records, a regression with its trend, a known issue, a gate failure, an inconclusive cell and an infra error", async () => {
    const section = await exampleSection();
    expect(section).toContain("🔴 regression");
    expect(section).toContain("```mermaid\nxychart-beta");
    expect(section).toContain("known issue `torchao-quantized-embedding-no-out-variants`");
    expect(section).toContain("❌ diverged at token 17");
    expect(section).toContain("🟡 inconclusive");
    expect(section).toContain("⚠️ timeout, not a regression");
  });
});
