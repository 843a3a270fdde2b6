/**
 * Runs one of our actions under GitHub's `@github/local-action`: its CLI reads the action's
 * action.yml, loads the inputs from a .env file, replaces @actions/core with its own stubs and
 * calls the `run()` exported by the action's logic file (it runs TypeScript source, not bundles:
 * stubs cannot reach into a bundle). The stubbed `setOutput` prints `::set-output name=…::…` and
 * `setFailed` prints `::error::…`; our `run()` also sets the CLI's exit code, which local-action
 * passes on as its own.
 */
import { realpathSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import type { ActionName } from "../../actions/src/action-runs/io-table.ts";
import { REPO_ROOT } from "../../actions/src/core/paths.ts";
import { tempDir } from "./env.ts";

export interface LocalActionRun {
  exitCode: number;
  outputs: Record<string, string>;
  /** The first line of each `::error::` (a failed step's message starts there). */
  errors: string[];
  warnings: string[];
  /** The job summary the action wrote. */
  summary: string;
  stdout: string;
}

/**
 * local-action finds @actions/core with `npm ls` from its working folder and stubs that file by
 * path. A git worktree whose node_modules is a symlink would give a path the action never loads
 * (Node resolves the symlink), so it runs from the folder that really holds node_modules.
 */
const NODE_MODULES_HOME = path.dirname(realpathSync(path.join(REPO_ROOT, "node_modules")));
const BIN = path.join(REPO_ROOT, "node_modules", ".bin", "local-action");

function dotenvLine(key: string, value: string): string {
  if (value.includes("'") || value.includes("\n")) {
    throw new Error(`test bug: ${key}'s value cannot go in a single-quoted .env value: ${value}`);
  }
  return `${key}='${value}'`;
}

export async function runLocalAction(
  action: ActionName,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<LocalActionRun> {
  const dir = await tempDir("pte-farm-local-action-");
  const summaryFile = path.join(dir, "summary.md");
  const lines = [
    ...Object.entries(inputs).map(([k, v]) => dotenvLine(`INPUT_${k.toUpperCase()}`, v)),
    dotenvLine("GITHUB_WORKSPACE", REPO_ROOT),
    dotenvLine("GITHUB_STEP_SUMMARY", summaryFile),
  ];
  const dotenv = path.join(dir, ".env");
  await writeFile(dotenv, `${lines.join("\n")}\n`);
  const res = await execa(
    BIN,
    ["run", path.join(REPO_ROOT, "actions", action), `../src/action-runs/${action}.ts`, dotenv],
    {
      cwd: NODE_MODULES_HOME,
      reject: false,
      all: true,
      env: { NO_COLOR: "1", FORCE_COLOR: "0", ...env },
    },
  );
  const stdout = res.all ?? "";
  if (!stdout.includes("Running Action")) throw new Error(`local-action did not run the action:\n${stdout}`);
  const outputs: Record<string, string> = {};
  for (const m of stdout.matchAll(/^::set-output name=([^:]+)::(.*)$/gm))
    outputs[m[1] as string] = m[2] as string;
  if (Object.keys(outputs).length > 0 && stdout.includes("No outputs were set!")) {
    throw new Error("local-action did not stub @actions/core: the outputs went to the real toolkit");
  }
  const firsts = (kind: string) =>
    [...stdout.matchAll(new RegExp(`^::${kind}::(.*)$`, "gm"))].map((m) => m[1] as string);
  return {
    exitCode: res.exitCode ?? -1,
    outputs,
    errors: firsts("error"),
    warnings: firsts("warning"),
    summary: await readFile(summaryFile, "utf8").catch(() => ""),
    stdout,
  };
}
