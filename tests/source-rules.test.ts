/**
 * The two source-layout checks of `make lint`, each run on a small fixture tree that breaks it, so
 * a rule that stopped matching (a renamed folder, a parser that silently reads no .ts) fails here:
 *
 * - the import rules in .dependency-cruiser.mjs (no circle; nothing imports the CLI or the
 *   actions' run() functions but the edges; core/ at the bottom; schemas/ on core/ only);
 * - scripts/check-file-sizes.ts (no source file over 400 lines but the declared tables).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { checkFileSizes, countLines } from "../scripts/check-file-sizes.ts";
import { tempDir } from "./helpers/env.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir("pte-farm-source-rules-");
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

/** `import` lines for each target, as the project writes them (relative, with the .ts extension). */
function importing(from: string, ...targets: string[]): string {
  const lines = targets.map((t, i) => {
    let rel = path.posix.relative(path.posix.dirname(from), t);
    if (!rel.startsWith(".")) rel = `./${rel}`;
    return `import { x as x${i} } from "${rel}";`;
  });
  return `${lines.join("\n")}\nexport const x = 1;\n`;
}

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

const ROOTS = ["actions/src", "matrix", "reports", "scripts"];

/**
 * dependency-cruiser with the project's config over the fixture's source roots, twice: as `make
 * lint` runs it (its exit code) and with JSON output (which rule each violation broke).
 */
async function cruise(root: string): Promise<{ exitCode: number; violations: string[]; modules: number }> {
  const cli = path.join(REPO_ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruiser.mjs");
  const config = ["--config", path.join(REPO_ROOT, ".dependency-cruiser.mjs")];
  const lint = await execa(process.execPath, [cli, ...config, ...ROOTS], { cwd: root, reject: false });
  const json = await execa(process.execPath, [cli, ...config, "--output-type", "json", ...ROOTS], {
    cwd: root,
    reject: false,
  });
  if (json.stdout === "") throw new Error(`dependency-cruiser printed nothing: ${json.stderr}`);
  const out = JSON.parse(json.stdout) as { modules: unknown[]; summary: { violations: Violation[] } };
  return {
    exitCode: lint.exitCode ?? -1,
    modules: out.modules.length,
    violations: out.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort(),
  };
}

describe("import rules (.dependency-cruiser.mjs)", () => {
  it("accepts imports that point down: edges → domain → schemas → core", async () => {
    const root = await tree({
      "actions/src/core/errors.ts": "import path from 'node:path';\nexport const x = path.sep;\n",
      "actions/src/schemas/stage.ts": importing("actions/src/schemas/stage.ts", "actions/src/core/errors.ts"),
      "actions/src/records/build.ts": importing(
        "actions/src/records/build.ts",
        "actions/src/schemas/stage.ts",
        "matrix/load.ts",
      ),
      "matrix/load.ts": importing(
        "matrix/load.ts",
        "actions/src/core/errors.ts",
        "actions/src/schemas/stage.ts",
      ),
      "reports/summary.ts": importing("reports/summary.ts", "actions/src/records/build.ts"),
      "actions/src/cli/run.ts": importing("actions/src/cli/run.ts", "actions/src/records/build.ts"),
      "actions/src/action-runs/gate.ts": importing("actions/src/action-runs/gate.ts", "matrix/load.ts"),
      "actions/src/entries/gate.ts": importing(
        "actions/src/entries/gate.ts",
        "actions/src/action-runs/gate.ts",
      ),
      "scripts/bench.ts": importing(
        "scripts/bench.ts",
        "actions/src/cli/run.ts",
        "actions/src/action-runs/gate.ts",
      ),
    });
    const res = await cruise(root);
    expect(res.violations).toEqual([]);
    expect(res.exitCode).toBe(0);
    // The parser really read the TypeScript: every file and its node: import.
    expect(res.modules).toBe(10);
  });

  it("rejects a circle, imports of the CLI and of the actions' run() from domain code, core importing up and a schema importing a domain folder", async () => {
    const root = await tree({
      "actions/src/core/host-info.ts": importing(
        "actions/src/core/host-info.ts",
        "actions/src/schemas/record.ts",
      ),
      "actions/src/schemas/record.ts": importing("actions/src/schemas/record.ts", "matrix/ids.ts"),
      "matrix/ids.ts": "export const x = 1;\n",
      "matrix/load.ts": importing("matrix/load.ts", "matrix/checks.ts"),
      "matrix/checks.ts": importing("matrix/checks.ts", "matrix/cells.ts"),
      "matrix/cells.ts":
        "import type { x } from './load.ts';\nexport const y: typeof x = 1;\nexport { y as x };\n",
      "actions/src/cli/records.ts": "export const x = 1;\n",
      "actions/src/action-runs/io-table.ts": "export const x = 1;\n",
      "actions/src/publish/nightly.ts": importing(
        "actions/src/publish/nightly.ts",
        "actions/src/cli/records.ts",
      ),
      "actions/src/entries/report.ts": importing(
        "actions/src/entries/report.ts",
        "actions/src/cli/records.ts",
      ),
      "actions/src/cli/health.ts": importing(
        "actions/src/cli/health.ts",
        "actions/src/action-runs/io-table.ts",
      ),
      "reports/summary.ts": importing("reports/summary.ts", "actions/src/action-runs/io-table.ts"),
      // scripts/ (and tests/) are edges: they may import the CLI and the actions' run().
      "scripts/report.ts": importing(
        "scripts/report.ts",
        "actions/src/cli/records.ts",
        "actions/src/action-runs/io-table.ts",
      ),
    });
    const res = await cruise(root);
    expect(res.exitCode).not.toBe(0);
    expect(res.violations).toEqual([
      "core-is-the-bottom: actions/src/core/host-info.ts → actions/src/schemas/record.ts",
      "no-action-runs-from-outside: actions/src/cli/health.ts → actions/src/action-runs/io-table.ts",
      "no-action-runs-from-outside: reports/summary.ts → actions/src/action-runs/io-table.ts",
      // One finding per circle, at its type-only edge: `import type` makes a circle too.
      "no-circular: matrix/cells.ts → matrix/load.ts",
      "no-cli-from-outside: actions/src/entries/report.ts → actions/src/cli/records.ts",
      "no-cli-from-outside: actions/src/publish/nightly.ts → actions/src/cli/records.ts",
      "schemas-only-on-core: actions/src/schemas/record.ts → matrix/ids.ts",
    ]);
  });
});

describe("file sizes (scripts/check-file-sizes.ts)", () => {
  const lines = (n: number) => "export const x = 1;\n".repeat(n);

  it("counts lines as wc -l does, and the last line without a newline too", () => {
    expect(countLines("")).toBe(0);
    expect(countLines("a\nb\n")).toBe(2);
    expect(countLines("a\nb")).toBe(2);
  });

  it("flags a source file over the limit and a declared table that is gone, and nothing else", async () => {
    const root = await tree({
      "actions/src/publish/ingest.ts": lines(401),
      "actions/src/publish/at-limit.ts": lines(400),
      "matrix/deep/nested/long.ts": lines(402),
      "actions/src/action-runs/io-table.ts": lines(444),
      "actions/build/dist/index.ts": lines(900),
      "scripts/node_modules/pkg/index.ts": lines(900),
      "reports/notes.md": lines(900),
      "tests/big.test.ts": lines(900),
    });
    const findings = await checkFileSizes(root, {
      roots: ["actions", "matrix", "reports", "scripts"],
      tables: { "actions/src/action-runs/io-table.ts": "a table", "matrix/gone.ts": "a table" },
      maxLines: 400,
    });
    expect(findings).toEqual([
      { file: "actions/src/publish/ingest.ts", message: expect.stringMatching(/^401 lines \(limit 400\)/) },
      { file: "matrix/deep/nested/long.ts", message: expect.stringMatching(/^402 lines/) },
      { file: "matrix/gone.ts", message: expect.stringMatching(/declared in TABLES but not found/) },
    ]);
  });

  it("checks the project's own roots with the declared tables by default", async () => {
    const root = await tree({ "scripts/long.ts": lines(401), "tests/long.test.ts": lines(401) });
    const findings = await checkFileSizes(root);
    expect(findings.map((f) => f.file)).toEqual(["scripts/long.ts", "actions/src/action-runs/io-table.ts"]);
  });
});
