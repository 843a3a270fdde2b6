/**
 * The fault table (scripts/fault-table.ts): docs/faults.md is what the tests' `@fault` tags say,
 * and `--check` fails when it is stale or a tag is wrong. The repository is checked as it is; the
 * failures are shown on a small copy with its own catalogue and tests (`--root`).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { tagsOf, vitestTitle } from "../scripts/fault-tags.ts";

const SCRIPT = path.join(REPO_ROOT, "scripts/fault-table.ts");
const run = (...args: string[]) => execa(process.execPath, [SCRIPT, ...args], { reject: false });

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

const CATALOGUE = [
  "requirements:",
  "  - id: kept",
  "    source: Device farms",
  "    requirement: Records survive | everything.",
  "  - id: alone",
  "    source: Device farms",
  "    requirement: Nobody tests this yet.",
  "  - id: spare",
  "    source: Extras",
  "    extra: true",
  "    requirement: An extra.",
  "",
].join("\n");

const TESTS = [
  'import { it } from "vitest";',
  "// @fault kept | 20 writers at once | all stored | records 19/20",
  "// a comment between the tag and the test is fine",
  "it(",
  '  "loses \\"nothing\\" | twice",',
  "  () => {},",
  ");",
  "",
  "// @fault spare | a full disk | an infrastructure error",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a test's source text, not a JS template
  "it.skipIf(!process.env.X)(`skips ${why} politely`, () => {});",
  "",
].join("\n");

/** A checkout with the catalogue, one vitest file, one pytest file and a docs folder. */
async function tree(tests = TESTS): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "pte-farm-faults-"));
  roots.push(root);
  await mkdir(path.join(root, "tests"), { recursive: true });
  await mkdir(path.join(root, "stages/tests"), { recursive: true });
  await mkdir(path.join(root, "docs"), { recursive: true });
  await writeFile(path.join(root, "tests/fault-requirements.yml"), CATALOGUE);
  await writeFile(path.join(root, "tests/a.test.ts"), tests);
  await writeFile(
    path.join(root, "stages/tests/test_b.py"),
    [
      "# @fault kept | a killed server | nothing lost | records 5/5",
      "@mark",
      "def test_b() -> None:",
      "    pass",
      "",
    ].join("\n"),
  );
  return root;
}

describe("the repository's fault table", () => {
  it("is up to date, and every tag names a catalogued requirement above a test (--check)", async () => {
    const res = await run("--check");
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^docs\/faults\.md: \d+ of 24 requirements pinned, .* 0 records lost\.$/m);
  });
});

describe("fault-table on a small checkout (--root)", () => {
  it("writes the counts, one table per source, and NOT PINNED for an untagged requirement", async () => {
    const root = await tree();
    const res = await run("--root", root);
    expect(res.exitCode, res.stderr).toBe(0);
    const doc = await readFile(path.join(root, "docs/faults.md"), "utf8");
    expect(doc).toContain(
      "**1 of 2 requirements pinned**, plus 1 of 1 extras; **3 faults injected** by 3 tests; records kept 24 of 25, **1 records lost**.",
    );
    expect(doc).toContain("Not pinned yet: `alone`.");
    expect(doc).toContain("| **alone**: Nobody tests this yet. | NOT PINNED |  |  |");
    expect(doc).toContain(
      '| **kept**: Records survive \\| everything. | 20 writers at once | all stored (records kept: 19 of 20) | `tests/a.test.ts`: loses "nothing" \\| twice |',
    );
    expect(doc).toContain(
      "|  | a killed server | nothing lost (records kept: 5 of 5) | `stages/tests/test_b.py`: test_b |",
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a test's source text, not a JS template
    expect(doc).toContain("`tests/a.test.ts`: skips ${why} politely |");
    expect(doc.indexOf("## Device farms")).toBeLessThan(doc.indexOf("## Extras"));
    expect((await run("--check", "--root", root)).exitCode).toBe(0);
  });

  it("fails --check on a stale page, saying how to regenerate it", async () => {
    const root = await tree();
    await run("--root", root);
    await writeFile(path.join(root, "tests/a.test.ts"), TESTS.replace("all stored", "all kept"));
    const res = await run("--check", "--root", root);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toBe("docs/faults.md is stale: run node scripts/fault-table.ts");
  });

  it("fails on a tag with an unknown id, and on one that is not above a test, naming file and line", async () => {
    const root = await tree(
      `${TESTS}// @fault nope | x | y\nit("t", () => {});\n// @fault kept | x | y\nconst z = 1;\n`,
    );
    const res = await run("--check", "--root", root);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("tests/a.test.ts:11: unknown id nope: not in tests/fault-requirements.yml");
    expect(res.stderr).toContain("tests/a.test.ts:13: the tag for kept is not directly above a test");
  });

  it("refuses an unknown flag as bad usage (exit 2)", async () => {
    const res = await run("--bogus");
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("usage: node scripts/fault-table.ts [--check] [--root DIR]");
  });
});

describe("reading a tag and its test", () => {
  it("finds the title in '…', \"…\" and `…`, after modifiers, and on the call's next line", () => {
    const title = (src: string) => vitestTitle(src, 0);
    expect(title("it('it\\'s here', () => {})")).toBe("it's here");
    expect(title('test("a \\"quoted\\" word", () => {})')).toBe('a "quoted" word');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a test's source text, not a JS template
    expect(title("it(`x ${f(`y`)} z`, () => {})")).toBe("x ${f(`y`)} z");
    expect(title('it.skipIf(!exists("/a (b)"))(\n  "after the modifier",\n  () => {})')).toBe(
      "after the modifier",
    );
    expect(title('it.each([["a", 1]])("row %s", () => {})')).toBe("row %s");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a test's source text, not a JS template
    expect(title("it(`runs it${why}`, () => {})")).toBe("runs it");
    expect(title("it(name, () => {})")).toBeNull();
  });

  it("rejects a malformed tag and a records part that is not kept/expected", () => {
    const { tags, problems } = tagsOf(
      "t.test.ts",
      '// @fault x | only two\nit("a", () => {});\n// @fault x | a | b | records 3/2\nit("b", () => {});\n',
    );
    expect(tags).toEqual([]);
    expect(problems.map((p) => [p.line, p.message.split(":")[0]])).toEqual([
      [1, "malformed tag"],
      [3, 'malformed records "records 3/2"'],
    ]);
  });
});
