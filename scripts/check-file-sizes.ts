/**
 * No source file over 400 lines (`node scripts/check-file-sizes.ts`, run by `make lint`): a longer
 * file is rarely read in one sitting and is usually two concerns, so split it by concern. Tests and
 * the bundles in `actions/<name>/dist` are not checked.
 *
 * A table (entries read by lookup, one after another, not top to bottom) may be longer; each one
 * is declared in TABLES with why. A declared table that no longer exists is a finding too, so the
 * list cannot rot into a quiet exemption. tests/source-rules.test.ts shows each finding on a fixture.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "../actions/src/core/paths.ts";

export const MAX_LINES = 400;

/** The folders holding the project's TypeScript, relative to the repository root. */
export const SOURCE_ROOTS = ["actions/src", "matrix", "reports", "scripts"];

/** Repository-relative path → why it is a table. */
export const TABLES: Readonly<Record<string, string>> = {
  "actions/src/action-runs/io-table.ts":
    "every action's name, inputs and outputs, one entry per action; action.yml files are generated from it",
};

export interface SizeRules {
  roots: readonly string[];
  tables: Readonly<Record<string, string>>;
  maxLines: number;
}

export const RULES: SizeRules = { roots: SOURCE_ROOTS, tables: TABLES, maxLines: MAX_LINES };

export interface SizeFinding {
  /** Repository-relative, with `/` separators. */
  file: string;
  message: string;
}

/** Lines as `wc -l` and an editor's last line number count them (a final newline ends a line). */
export function countLines(text: string): number {
  if (text === "") return 0;
  const breaks = text.split("\n").length - 1;
  return text.endsWith("\n") ? breaks : breaks + 1;
}

async function tsFiles(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  });
  const out: string[] = [];
  for (const e of entries) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "dist") out.push(...(await tsFiles(root, rel)));
    } else if (e.isFile() && e.name.endsWith(".ts")) {
      out.push(rel);
    }
  }
  return out;
}

/** Every source file over the limit that is not a declared table, and every declared table that is gone. */
export async function checkFileSizes(
  root: string = REPO_ROOT,
  rules: SizeRules = RULES,
): Promise<SizeFinding[]> {
  const files = (await Promise.all(rules.roots.map((r) => tsFiles(root, r)))).flat().sort();
  const findings: SizeFinding[] = [];
  for (const file of files) {
    if (file in rules.tables) continue;
    const lines = countLines(await readFile(path.join(root, file), "utf8"));
    if (lines > rules.maxLines) {
      findings.push({
        file,
        message: `${lines} lines (limit ${rules.maxLines}): split it by concern, or declare it in TABLES if it is a table`,
      });
    }
  }
  const present = new Set(files);
  for (const table of Object.keys(rules.tables).sort()) {
    if (!present.has(table)) {
      findings.push({ file: table, message: "declared in TABLES but not found: remove the entry" });
    }
  }
  return findings;
}

if (import.meta.main) {
  const findings = await checkFileSizes();
  for (const f of findings) process.stderr.write(`${f.file}: ${f.message}\n`);
  if (findings.length > 0) {
    process.stderr.write(`${findings.length} file-size finding(s)\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(
      `file sizes: no source file over ${MAX_LINES} lines (tables: ${Object.keys(TABLES).join(", ")})\n`,
    );
  }
}
