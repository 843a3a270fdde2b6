/**
 * The `@fault` tags in the tests, and the test each one pins. A tag is a comment line directly
 * above a test (other comment lines, and a Python test's decorators, may sit between):
 *
 *   // @fault <id> | <how the fault is injected> | <what the farm does> | records <kept>/<expected>
 *
 * in a `.test.ts` file under `tests/`, above `it(` or `test(` (with modifiers such as
 * `it.skipIf(x)(` or `it.each(rows)(`); with `#` in a `test_*.py` file under `stages/`, above
 * `def test_`. Only a line that starts with the comment counts, so a tag quoted in a string is not.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

export interface FaultTag {
  id: string;
  /** How the test injects the fault. */
  injected: string;
  /** What the farm does about it, as the test asserts. */
  does: string;
  /** Records the test asserts survived the fault, when it counts them. */
  records: { kept: number; expected: number } | null;
  /** Repository-relative, with `/` separators. */
  file: string;
  line: number;
  /** The title of the test below the tag (a Python test's function name). */
  test: string;
}

export interface TagProblem {
  file: string;
  line: number;
  message: string;
}

const TAG = /^\s*(?:\/\/|#)\s*@fault\b(.*)$/;
const RECORDS = /^records (\d+)\/(\d+)$/;
const SKIP_DIRS = new Set(["node_modules", "__pycache__", "dist"]);

/** Files under `dir` (repository-relative) whose name passes `keep`, sorted; hidden folders skipped. */
async function filesUnder(root: string, dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), { recursive: true, withFileTypes: true }).catch(
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    },
  );
  return entries
    .filter((e) => e.isFile() && keep(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .filter((rel) => !rel.split("/").some((part) => part.startsWith(".") || SKIP_DIRS.has(part)))
    .sort();
}

/** The test files that may carry tags: vitest's and pytest's. */
export async function testFiles(root: string): Promise<string[]> {
  const ts = await filesUnder(root, "tests", (n) => n.endsWith(".test.ts"));
  const py = await filesUnder(root, "stages", (n) => n.startsWith("test_") && n.endsWith(".py"));
  return [...ts, ...py];
}

/** The string literal opening at `src[at]` (a quote), unescaped, and the index after it. */
function readString(src: string, at: number): { text: string; end: number } | null {
  const quote = src[at];
  let text = "";
  for (let i = at + 1; i < src.length; i++) {
    const c = src[i] as string;
    if (c === "\\") {
      text += src[i + 1] ?? "";
      i++;
    } else if (c === quote) {
      return { text, end: i + 1 };
    } else if (quote === "`" && c === "$" && src[i + 1] === "{") {
      // An interpolation is kept as written (`${why}`), nested braces and all.
      let depth = 0;
      const start = i;
      for (; i < src.length; i++) {
        if (src[i] === "{") depth++;
        else if (src[i] === "}" && --depth === 0) break;
      }
      text += src.slice(start, i + 1);
    } else {
      text += c;
    }
  }
  return null;
}

/** The index after the `)` closing the `(` at `src[at]`, skipping parentheses inside strings. */
function skipParens(src: string, at: number): number | null {
  let depth = 0;
  for (let i = at; i < src.length; i++) {
    const c = src[i] as string;
    if (c === '"' || c === "'" || c === "`") {
      const s = readString(src, i);
      if (s === null) return null;
      i = s.end - 1;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return null;
}

/**
 * The title of the vitest call starting at `src[at]` (`it` or `test`): the string that opens the
 * first argument list starting with one, so `it.skipIf(!ok("x"))("title", …)` and
 * `it.each([…])("title %s", …)` give their titles, and so does a title on the call's next line.
 * Interpolations are kept as written, but for a final `${name}`, the tests' skip note.
 */
export function vitestTitle(src: string, at: number): string | null {
  let i = at + (/^(it|test)/.exec(src.slice(at))?.[0].length ?? 0);
  while (i < src.length) {
    while (/\s/.test(src[i] ?? "")) i++;
    if (src[i] === ".") {
      i = i + 1 + (/^\w+/.exec(src.slice(i + 1))?.[0].length ?? 0);
    } else if (src[i] === "(") {
      let j = i + 1;
      while (/\s/.test(src[j] ?? "")) j++;
      if (src[j] === '"' || src[j] === "'" || src[j] === "`") {
        // A title's closing interpolation is the tests' skip note (`${why}`), not part of the name.
        return readString(src, j)?.text.replace(/\$\{\w+\}$/, "") ?? null;
      }
      const end = skipParens(src, i);
      if (end === null) return null;
      i = end;
    } else {
      return null;
    }
  }
  return null;
}

const isComment = (line: string, py: boolean) =>
  py ? /^\s*(#|@)/.test(line) : /^\s*(\/\/|\/\*|\*)/.test(line);

/** The tags of one file and the problems with them (a malformed tag, a tag not above a test). */
export function tagsOf(file: string, text: string): { tags: FaultTag[]; problems: TagProblem[] } {
  const py = file.endsWith(".py");
  const lines = text.split("\n");
  const offsets: number[] = [];
  for (let at = 0, k = 0; k < lines.length; at += (lines[k] as string).length + 1, k++) offsets.push(at);
  const tags: FaultTag[] = [];
  const problems: TagProblem[] = [];
  for (const [i, line] of lines.entries()) {
    const m = TAG.exec(line);
    if (m === null) continue;
    const problem = (message: string) => {
      problems.push({ file, line: i + 1, message });
    };
    const parts = (m[1] as string).split("|").map((p) => p.trim());
    const [id = "", injected = "", does = "", records, ...rest] = parts;
    if (!/^[a-z0-9-]+$/.test(id) || injected === "" || does === "" || rest.length > 0) {
      problem(
        "malformed tag: write `@fault <id> | <how it is injected> | <what the farm does> [| records <kept>/<expected>]`",
      );
      continue;
    }
    const r = records === undefined ? null : RECORDS.exec(records);
    if (records !== undefined && (r === null || Number(r[1]) > Number(r[2]))) {
      problem(`malformed records "${records}": write "records <kept>/<expected>", kept at most expected`);
      continue;
    }
    let j = i + 1;
    while (j < lines.length && isComment(lines[j] as string, py)) j++;
    const next = lines[j] ?? "";
    const test = py
      ? (/^\s*(?:async\s+)?def\s+(test_\w+)/.exec(next)?.[1] ?? null)
      : /^\s*(it|test)\b/.test(next)
        ? vitestTitle(text, (offsets[j] as number) + (next.length - next.trimStart().length))
        : null;
    if (test === null) {
      problem(
        `the tag for ${id} is not directly above a test (${py ? "def test_…" : "it(…) or test(…) with its title"})`,
      );
      continue;
    }
    tags.push({
      id,
      injected,
      does,
      records: r === null ? null : { kept: Number(r[1]), expected: Number(r[2]) },
      file,
      line: i + 1,
      test,
    });
  }
  return { tags, problems };
}

/** Every tag under `root`'s tests, in file then line order. */
export async function collectTags(root: string): Promise<{ tags: FaultTag[]; problems: TagProblem[] }> {
  const tags: FaultTag[] = [];
  const problems: TagProblem[] = [];
  for (const file of await testFiles(root)) {
    const found = tagsOf(file, await readFile(path.join(root, file), "utf8"));
    tags.push(...found.tags);
    problems.push(...found.problems);
  }
  return { tags, problems };
}
