/**
 * A workflow file as the policy rules read it: the parsed document and its text, the triggers it
 * runs under (its callers' included), its jobs and steps, and the shared reading helpers.
 */
import { parse as parseYaml } from "yaml";
import type { LocalAction } from "../local-actions.ts";

export interface WorkflowFile {
  /** File name inside .github/workflows, e.g. "farm-pr.yml". */
  name: string;
  text: string;
  doc: Record<string, unknown>;
}

export interface PolicyFinding {
  rule: string;
  file: string;
  message: string;
}

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function parseWorkflow(name: string, text: string): WorkflowFile {
  const doc: unknown = parseYaml(text);
  if (!isObj(doc)) throw new Error(`${name}: not a YAML mapping`);
  return { name, text, doc };
}

/** Trigger names of a workflow (`on:` as a string, a list or a map). */
export function triggers(wf: WorkflowFile): Set<string> {
  const on = wf.doc.on ?? wf.doc.true; // YAML 1.1 readers turn a bare `on` into true
  if (typeof on === "string") return new Set([on]);
  if (Array.isArray(on)) return new Set(on.map(String));
  return new Set(Object.keys(asObj(on)));
}

export function jobs(wf: WorkflowFile): [string, Obj][] {
  return Object.entries(asObj(wf.doc.jobs)).map(([id, job]) => [id, asObj(job)]);
}

export function steps(job: Obj): Obj[] {
  return asArr(job.steps).map(asObj);
}

/** The file a job calls (`uses: ./.github/workflows/x.yml`), by name; null for a normal job. */
export function calledWorkflow(job: Obj): string | null {
  const uses = job.uses;
  if (typeof uses !== "string" || !uses.startsWith("./.github/workflows/")) return null;
  return uses.slice("./.github/workflows/".length);
}

/**
 * Triggers a workflow runs under: its own (except workflow_call), plus, for a reusable workflow,
 * its callers' — farm-device.yml runs for `pull_request` because farm-pr.yml calls it.
 */
export function effectiveTriggers(all: ReadonlyMap<string, WorkflowFile>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const wf of all.values())
    out.set(wf.name, new Set([...triggers(wf)].filter((t) => t !== "workflow_call")));
  for (let changed = true; changed; ) {
    changed = false;
    for (const wf of all.values()) {
      for (const [, job] of jobs(wf)) {
        const callee = calledWorkflow(job);
        const target = callee === null ? undefined : out.get(callee);
        if (target === undefined) continue;
        for (const t of out.get(wf.name) ?? []) {
          if (!target.has(t)) {
            target.add(t);
            changed = true;
          }
        }
      }
    }
  }
  return out;
}

/** Permission levels, in order. */
export const LEVEL = { none: 0, read: 1, write: 2 } as const;

/** A `permissions:` value as [scope, level] pairs; `read-all` as `*: read`, another string as `*`. */
export function granted(perms: unknown): [string, string][] {
  if (perms === undefined) return [];
  if (typeof perms === "string") return perms === "read-all" ? [["*", "read"]] : [["*", perms]];
  return Object.entries(asObj(perms)).map(([scope, level]) => [scope, String(level)]);
}

/** Problems with a `permissions` value that should be read-only; [] when it is. */
export function writes(perms: unknown): string[] {
  if (perms === undefined) return [];
  if (typeof perms === "string") return perms === "read-all" ? [] : [`permissions: ${perms}`];
  return Object.entries(asObj(perms))
    .filter(([, level]) => level !== "read" && level !== "none")
    .map(([scope, level]) => `${scope}: ${String(level)}`);
}

const HOSTED = /^(ubuntu|windows|macos)-[\w.-]+$/;

/**
 * Whether a job's `runs-on` can only ever name a GitHub-hosted runner: literal hosted labels, or
 * an expression made only of `cond && 'label' || ... || 'label'` branches whose labels are all
 * hosted (so no branch can return data, such as a plan's `runs_on`). Anything else may be
 * self-hosted (conservatively: a label group, an expression this cannot read).
 */
export function hostedByConstruction(runsOn: unknown): boolean {
  if (Array.isArray(runsOn))
    return runsOn.length > 0 && runsOn.every((l) => typeof l === "string" && HOSTED.test(l));
  if (typeof runsOn !== "string") return false;
  const expr = /^\$\{\{(.*)\}\}$/s.exec(runsOn.trim());
  if (expr === null) return HOSTED.test(runsOn) && !runsOn.includes("${{");
  return (expr[1] as string).split("||").every((branch) => {
    const m = /^(?:[^']*(?:'[^']*'[^']*)*&&)?\s*'([^']*)'\s*$/.exec(branch.trim());
    return m !== null && HOSTED.test(m[1] as string);
  });
}

export function checkoutSteps(job: Obj): Obj[] {
  return steps(job).filter((s) => typeof s.uses === "string" && s.uses.startsWith("actions/checkout@"));
}

/** The local actions a rule can check calls against, by folder name. */
export interface LocalActions {
  /** From the action.yml files in the tree. */
  declared: ReadonlyMap<string, LocalAction>;
}

export type Rule = (
  all: ReadonlyMap<string, WorkflowFile>,
  effective: Map<string, Set<string>>,
  actions: LocalActions,
) => PolicyFinding[];

/** The file without its comments (a `#` at a line's start or after a space), for text searches. */
export function code(text: string): string {
  return text
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, ""))
    .join("\n");
}

/** The inside of every `${{ }}` expression in the file. */
export function expressions(text: string): string[] {
  return [...code(text).matchAll(/\$\{\{(.*?)\}\}/gs)].map((m) => m[1] as string);
}
