/**
 * docs/faults.md, the fault table, from the requirement catalogue (tests/fault-requirements.yml)
 * and the `@fault` tags in the tests (scripts/fault-tags.ts): per requirement, the fault each
 * tagged test injects, what the farm does, and the test; and the counts (requirements pinned,
 * faults injected, records kept and lost). Nobody writes the table by hand, so it says only what
 * the tests do.
 *
 *   node scripts/fault-table.ts [--root DIR]           write DIR/docs/faults.md
 *   node scripts/fault-table.ts --check [--root DIR]   exit 1 if it is stale, a tag names an id the
 *                                                      catalogue lacks, or a tag is above no test
 *
 * A requirement without a tag is listed as NOT PINNED and counted; that alone fails nothing, so a
 * requirement can be catalogued before its test exists. Exit 2 is bad usage.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { collectTags, type FaultTag, type TagProblem } from "./fault-tags.ts";

export const CATALOGUE = "tests/fault-requirements.yml";
export const OUTPUT = "docs/faults.md";

export interface Requirement {
  id: string;
  source: string;
  requirement: string;
  /** A fault the farm adds to the published lists; counted apart from them. */
  extra: boolean;
}

export interface Counts {
  requirements: { pinned: number; total: number };
  extras: { pinned: number; total: number };
  /** Tags: one fault injected by one test. */
  faults: number;
  tests: number;
  records: { kept: number; expected: number; lost: number };
  notPinned: string[];
}

export interface FaultTable {
  markdown: string;
  counts: Counts;
  problems: TagProblem[];
}

const KEYS = new Set(["id", "source", "requirement", "extra"]);

/** The catalogue, checked: each entry an id, a source and a sentence; ids unique. */
export function parseCatalogue(text: string): { requirements: Requirement[]; problems: TagProblem[] } {
  const problems: TagProblem[] = [];
  const problem = (message: string) => problems.push({ file: CATALOGUE, line: 0, message });
  const doc = parse(text) as { requirements?: unknown } | null;
  if (!Array.isArray(doc?.requirements)) {
    problem("needs a top-level `requirements:` list");
    return { requirements: [], problems };
  }
  const requirements: Requirement[] = [];
  for (const [i, entry] of (doc.requirements as Record<string, unknown>[]).entries()) {
    const { id, source, requirement, extra = false } = entry ?? {};
    const unknown = Object.keys(entry ?? {}).filter((k) => !KEYS.has(k));
    if (typeof id !== "string" || !/^[a-z0-9-]+$/.test(id)) problem(`entry ${i + 1}: id must be kebab-case`);
    else if (requirements.some((r) => r.id === id)) problem(`entry ${i + 1}: id ${id} appears twice`);
    else if (typeof source !== "string" || typeof requirement !== "string" || typeof extra !== "boolean")
      problem(`${id}: needs a source and a requirement (strings), and extra only as true or false`);
    else if (unknown.length > 0) problem(`${id}: unknown key ${unknown.join(", ")}`);
    else requirements.push({ id, source, requirement: requirement.trim(), extra });
  }
  return { requirements, problems };
}

/** A table cell: on one line, with nothing that would end the cell or open an HTML element. */
function cell(text: string): string {
  return text.replace(/\s+/g, " ").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\|/g, "\\|");
}

const row = (cells: string[]) => `| ${cells.join(" | ")} |`;

export function countsOf(requirements: Requirement[], tags: FaultTag[]): Counts {
  const pinned = (extra: boolean) => {
    const of = requirements.filter((r) => r.extra === extra);
    return { pinned: of.filter((r) => tags.some((t) => t.id === r.id)).length, total: of.length };
  };
  const kept = tags.reduce((n, t) => n + (t.records?.kept ?? 0), 0);
  const expected = tags.reduce((n, t) => n + (t.records?.expected ?? 0), 0);
  return {
    requirements: pinned(false),
    extras: pinned(true),
    faults: tags.length,
    tests: new Set(tags.map((t) => `${t.file}\n${t.test}`)).size,
    records: { kept, expected, lost: expected - kept },
    notPinned: requirements.filter((r) => !tags.some((t) => t.id === r.id)).map((r) => r.id),
  };
}

export function countsLine(c: Counts): string {
  return [
    `**${c.requirements.pinned} of ${c.requirements.total} requirements pinned**, plus ${c.extras.pinned} of ${c.extras.total} extras;`,
    `**${c.faults} faults injected** by ${c.tests} tests;`,
    `records kept ${c.records.kept} of ${c.records.expected}, **${c.records.lost} records lost**.`,
  ].join(" ");
}

/** The page: an introduction, the counts, then one table per source in the catalogue's order. */
export function render(requirements: Requirement[], tags: FaultTag[]): { markdown: string; counts: Counts } {
  const counts = countsOf(requirements, tags);
  const out = [
    "# Fault table",
    "",
    "[← docs index](README.md) · [project README](../README.md)",
    "",
    `<!-- Generated by \`node scripts/fault-table.ts\` from ${CATALOGUE} and the tests' @fault tags: do not edit. -->`,
    "",
    "What the farm does when things go wrong, and the test that shows it. The requirements come from",
    `device farms (LAVA, KernelCI), GitHub Security Lab, zizmor and OpenSSF Scorecard, and GitHub's API`,
    `limits, listed in \`${CATALOGUE}\`; the rows come from a tag above each test that pins one:`,
    "",
    "```ts",
    "// @fault <id> | <how the fault is injected> | <what the farm does> | records <kept>/<expected>",
    "```",
    "",
    "(`#` in the Python tests; `records` only where the test asserts that records survive). After",
    "adding or changing a tag, run `node scripts/fault-table.ts` to regenerate this page; `make lint`",
    "runs it with `--check`, which fails when the page is stale, a tag names an unknown id, or a tag",
    "is not directly above a test. A requirement with no tag is shown as NOT PINNED.",
    "",
    countsLine(counts),
  ];
  if (counts.notPinned.length > 0)
    out.push("", `Not pinned yet: ${counts.notPinned.map((id) => `\`${id}\``).join(", ")}.`);
  for (const source of [...new Set(requirements.map((r) => r.source))]) {
    out.push(
      "",
      `## ${source}`,
      "",
      "| requirement | fault (how it is injected) | what the farm does | test |",
    );
    out.push("|---|---|---|---|");
    for (const r of requirements.filter((q) => q.source === source)) {
      const mine = tags.filter((t) => t.id === r.id);
      const head = `**${r.id}**: ${cell(r.requirement)}`;
      if (mine.length === 0) out.push(row([head, "NOT PINNED", "", ""]));
      mine.forEach((t, i) => {
        const records = t.records ? ` (records kept: ${t.records.kept} of ${t.records.expected})` : "";
        const test = `\`${t.file}\`: ${cell(t.test)}`;
        out.push(row([i === 0 ? head : "", cell(t.injected), `${cell(t.does)}${records}`, test]));
      });
    }
  }
  return { markdown: `${out.join("\n")}\n`, counts };
}

/** The table for the checkout at `root`, and every problem with its tags and catalogue. */
export async function faultTable(root: string): Promise<FaultTable> {
  const text = await readFile(path.join(root, CATALOGUE), "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${path.join(root, CATALOGUE)} (${err.code ?? err.message})`);
  });
  const catalogue = parseCatalogue(text);
  const found = await collectTags(root);
  const known = new Set(catalogue.requirements.map((r) => r.id));
  const unknown = found.tags.filter((t) => !known.has(t.id));
  const problems = [
    ...catalogue.problems,
    ...found.problems,
    ...unknown.map((t) => ({
      file: t.file,
      line: t.line,
      message: `unknown id ${t.id}: not in ${CATALOGUE}`,
    })),
  ];
  const tags = found.tags.filter((t) => known.has(t.id));
  return { ...render(catalogue.requirements, tags), problems };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { check: { type: "boolean" }, root: { type: "string" } },
    strict: true,
  });
  const root = path.resolve(values.root ?? REPO_ROOT);
  const table = await faultTable(root);
  for (const p of table.problems)
    process.stderr.write(`${p.file}${p.line ? `:${p.line}` : ""}: ${p.message}\n`);
  if (table.problems.length > 0) return 1;
  const file = path.join(root, OUTPUT);
  const current = await readFile(file, "utf8").catch(() => null);
  if (values.check) {
    if (current !== table.markdown) {
      process.stderr.write(`${OUTPUT} is stale: run node scripts/fault-table.ts\n`);
      return 1;
    }
  } else if (current !== table.markdown) {
    await writeFile(file, table.markdown);
  }
  process.stdout.write(`${OUTPUT}: ${countsLine(table.counts).replace(/\*\*/g, "")}\n`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const usage = err instanceof TypeError && "code" in err;
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.stderr.write(usage ? "usage: node scripts/fault-table.ts [--check] [--root DIR]\n" : "");
      process.exit(usage ? 2 : 1);
    },
  );
}
