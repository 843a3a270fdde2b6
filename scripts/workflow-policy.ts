/**
 * The farm's own rules for its workflows, on top of actionlint (syntax, expressions) and zizmor
 * (known-insecure patterns). These encode the security model in DESIGN.md, so that a change that
 * breaks it fails CI with the rule's name:
 *
 * - no-pull-request-target: the trigger that runs PR code with a write token is used nowhere;
 * - top-permissions: every workflow's top level is `permissions: {}` or read-only;
 * - pinned-uses: every non-local action is pinned by a 40-hex commit SHA with a `# vX.Y.Z` comment;
 * - checkout-credentials: every actions/checkout sets `persist-credentials: false`;
 * - pr-read-only: a workflow that runs for `pull_request` (itself or through a workflow that calls
 *   it) has no write permission and references no secret;
 * - fork-approval: in such a workflow, a job that may run on a self-hosted runner uses the
 *   `farm-hardware-fork` environment for fork PRs, checks out the PR's head SHA, and verifies it
 *   before running anything from it;
 * - workflow-run-trusted: a `workflow_run` workflow has no `run:` step, checks out only its own
 *   commit (no `ref`, no `repository`, never `allow-unsafe-pr-checkout`), uses local actions only
 *   from `./actions/`, and downloads artefacts under `runner.temp`, outside the checkout, so an
 *   artefact cannot replace the trusted code it is about to run;
 * - reusable-inputs: a call of a local reusable workflow passes only inputs it declares, and all
 *   its required ones (the wasm actionlint cannot open the called file to check this);
 * - local-action-io: a step's `uses: ./actions/<name>` names an action folder with an action.yml,
 *   passes only inputs it declares and all its required ones, and every
 *   `steps.<id>.outputs.<name>` of such a step in the same job is an output it declares (the wasm
 *   actionlint cannot open action.yml files to check this); a local action elsewhere is refused;
 * - writes-hosted: a job that holds any write permission (a release, attestations, the history
 *   branch, issues) runs on a GitHub-hosted runner by construction, never on a self-hosted board;
 * - release-attested: a job that publishes a release (`uses: ./actions/release` in mode publish)
 *   first attests build provenance (actions/attest-build-provenance) for what it publishes;
 * - zizmor-ignores: the only zizmor suppression allowed is `dangerous-triggers` on a
 *   `workflow_run:` line (the trigger is the design; workflow-run-trusted checks how it is used).
 *
 * Pure: workflows and action interfaces in, findings out. scripts/lint-workflows.ts reads the files.
 */
import { parse as parseYaml } from "yaml";
import type { LocalAction } from "./local-actions.ts";

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

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
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

function jobs(wf: WorkflowFile): [string, Obj][] {
  return Object.entries(asObj(wf.doc.jobs)).map(([id, job]) => [id, asObj(job)]);
}

function steps(job: Obj): Obj[] {
  return asArr(job.steps).map(asObj);
}

/** The file a job calls (`uses: ./.github/workflows/x.yml`), by name; null for a normal job. */
function calledWorkflow(job: Obj): string | null {
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

/** Problems with a `permissions` value that should be read-only; [] when it is. */
function writes(perms: unknown): string[] {
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

function checkoutSteps(job: Obj): Obj[] {
  return steps(job).filter((s) => typeof s.uses === "string" && s.uses.startsWith("actions/checkout@"));
}

/** The local actions a rule can check calls against, by folder name. */
interface LocalActions {
  /** From the action.yml files in the tree. */
  declared: ReadonlyMap<string, LocalAction>;
}

type Rule = (
  all: ReadonlyMap<string, WorkflowFile>,
  effective: Map<string, Set<string>>,
  actions: LocalActions,
) => PolicyFinding[];

/** The file without its comments (a `#` at a line's start or after a space), for text searches. */
function code(text: string): string {
  return text
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, ""))
    .join("\n");
}

/** The inside of every `${{ }}` expression in the file. */
function expressions(text: string): string[] {
  return [...code(text).matchAll(/\$\{\{(.*?)\}\}/gs)].map((m) => m[1] as string);
}

const noPullRequestTarget: Rule = (all) =>
  [...all.values()]
    .filter((wf) => triggers(wf).has("pull_request_target") || /\bpull_request_target\b/.test(code(wf.text)))
    .map((wf) => ({
      rule: "no-pull-request-target",
      file: wf.name,
      message:
        "uses pull_request_target, which runs PR code with a write token; use pull_request + workflow_run",
    }));

const topPermissions: Rule = (all) =>
  [...all.values()].flatMap((wf) => {
    if (!("permissions" in wf.doc)) {
      return [
        {
          rule: "top-permissions",
          file: wf.name,
          message: "no top-level permissions; set `permissions: {}`",
        },
      ];
    }
    return writes(wf.doc.permissions).map((w) => ({
      rule: "top-permissions",
      file: wf.name,
      message: `top-level ${w}; keep the top at {} or read-only and raise permissions per job`,
    }));
  });

/** Every `uses:` value with the line it is on. */
function usesLines(wf: WorkflowFile): { value: string; line: number; comment: string | null }[] {
  const out: { value: string; line: number; comment: string | null }[] = [];
  wf.text.split("\n").forEach((text, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*["']?([^\s"'#]+)["']?\s*(?:#\s*(.*))?$/.exec(text);
    if (m !== null) out.push({ value: m[1] as string, line: i + 1, comment: m[2]?.trim() ?? null });
  });
  return out;
}

const pinnedUses: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    usesLines(wf).flatMap(({ value, line, comment }): PolicyFinding[] => {
      if (value.startsWith("./")) return [];
      const where = `${wf.name}:${line}`;
      if (value.startsWith("docker://")) {
        return /@sha256:[0-9a-f]{64}$/.test(value)
          ? []
          : [{ rule: "pinned-uses", file: wf.name, message: `${where}: ${value} is not pinned by digest` }];
      }
      const ref = value.split("@")[1] ?? "";
      if (!/^[0-9a-f]{40}$/.test(ref)) {
        return [
          {
            rule: "pinned-uses",
            file: wf.name,
            message: `${where}: ${value} is not pinned by a 40-hex commit SHA`,
          },
        ];
      }
      if (comment === null || !/^v\d+\.\d+\.\d+$/.test(comment)) {
        return [
          {
            rule: "pinned-uses",
            file: wf.name,
            message: `${where}: ${value} needs a "# vX.Y.Z" comment naming its tag`,
          },
        ];
      }
      return [];
    }),
  );

const checkoutCredentials: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) =>
      checkoutSteps(job)
        .filter((s) => asObj(s.with)["persist-credentials"] !== false)
        .map(() => ({
          rule: "checkout-credentials",
          file: wf.name,
          message: `job ${id}: actions/checkout without persist-credentials: false leaves the token in .git/config`,
        })),
    ),
  );

const prReadOnly: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("pull_request"))
    .flatMap((wf) => {
      const found: PolicyFinding[] = [];
      const add = (message: string) => found.push({ rule: "pr-read-only", file: wf.name, message });
      for (const [id, job] of jobs(wf)) {
        for (const w of writes(job.permissions)) add(`job ${id} runs PR code with ${w}`);
        if (job.secrets !== undefined) add(`job ${id} passes secrets to a workflow that runs PR code`);
      }
      if (expressions(wf.text).some((e) => /\bsecrets\b/.test(e)))
        add("references a secret; PR code must never see one");
      return found;
    });

const forkApproval: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("pull_request"))
    .flatMap((wf) =>
      jobs(wf).flatMap(([id, job]): PolicyFinding[] => {
        if (calledWorkflow(job) !== null || job["runs-on"] === undefined) return [];
        if (hostedByConstruction(job["runs-on"])) return [];
        const problems: string[] = [];
        const env = isObj(job.environment) ? job.environment.name : job.environment;
        if (
          typeof env !== "string" ||
          !env.includes("'farm-hardware-fork'") ||
          !/github\.event\.pull_request\.head\.repo\.(full_name|fork)/.test(env)
        ) {
          problems.push(
            "may run on a self-hosted runner but does not use the farm-hardware-fork environment for fork PRs",
          );
        }
        const all = steps(job);
        const first = all.findIndex(
          (s) =>
            typeof s.uses === "string" &&
            s.uses.startsWith("actions/checkout@") &&
            asObj(s.with).path === undefined,
        );
        const ref = first < 0 ? undefined : asObj(all[first]?.with).ref;
        if (typeof ref !== "string" || !ref.includes("github.event.pull_request.head.sha")) {
          problems.push("does not check out github.event.pull_request.head.sha (the approved commit)");
        }
        const next = all
          .slice(first + 1)
          .find((s) => s.run !== undefined || String(s.uses ?? "").startsWith("./"));
        if (next === undefined || typeof next.run !== "string" || !/git rev-parse HEAD/.test(next.run)) {
          problems.push("runs something before verifying that HEAD is the approved SHA");
        }
        return problems.map((p) => ({ rule: "fork-approval", file: wf.name, message: `job ${id} ${p}` }));
      }),
    );

const workflowRunTrusted: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("workflow_run"))
    .flatMap((wf) =>
      jobs(wf).flatMap(([id, job]) => {
        const found: PolicyFinding[] = [];
        const add = (message: string) =>
          found.push({ rule: "workflow-run-trusted", file: wf.name, message: `job ${id} ${message}` });
        if (calledWorkflow(job) !== null) add("calls another workflow; keep workflow_run jobs in one file");
        for (const s of steps(job)) {
          if (s.run !== undefined) add("has a run: step; a workflow_run job only runs trusted actions");
          const uses = String(s.uses ?? "");
          const w = asObj(s.with);
          if (uses.startsWith("actions/checkout@")) {
            if (w.ref !== undefined || w.repository !== undefined) {
              add("checks out a ref or repository; check out only this workflow's own commit");
            }
            if (w["allow-unsafe-pr-checkout"] !== undefined) add("sets allow-unsafe-pr-checkout");
          }
          if (uses.startsWith("actions/download-artifact@")) {
            const target = typeof w.path === "string" ? w.path.trim() : "";
            if (!/^\$\{\{\s*runner\.temp\s*\}\}\/[\w./-]+$/.test(target) || target.includes("..")) {
              add(
                `downloads an artefact to ${target || "the workspace"}; download under \${{ runner.temp }}, outside the checkout`,
              );
            }
          }
          if (uses.startsWith("./") && !/^\.\/actions\/[a-z0-9-]+$/.test(uses)) {
            add(`uses local action ${uses}; only ./actions/<name> from the trusted checkout`);
          }
        }
        return found;
      }),
    );

const reusableInputs: Rule = (all) =>
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

const LOCAL_ACTION = /^\.\/actions\/([^/\s]+)\/?$/;

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

const localActionIO: Rule = (all, _effective, actions) =>
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

const zizmorIgnores: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    wf.text.split("\n").flatMap((text, i) => {
      const m = /zizmor:\s*ignore\[([^\]]*)\]/.exec(text);
      if (m === null) return [];
      if (m[1]?.trim() === "dangerous-triggers" && /^\s*workflow_run:/.test(text)) return [];
      return [
        {
          rule: "zizmor-ignores",
          file: wf.name,
          message: `${wf.name}:${i + 1}: zizmor ignore[${m[1]}] is not allowed; fix the finding instead`,
        },
      ];
    }),
  );

const writesHosted: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf)
      .filter(([, job]) => calledWorkflow(job) === null && writes(job.permissions).length > 0)
      .filter(([, job]) => !hostedByConstruction(job["runs-on"]))
      .map(([id, job]) => ({
        rule: "writes-hosted",
        file: wf.name,
        message:
          `job ${id} holds ${writes(job.permissions).join(", ")} but may run on a self-hosted runner; ` +
          "jobs that write run on GitHub-hosted runners (boards hold no write token)",
      })),
  );

const releaseAttested: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) => {
      const list = steps(job);
      const publish = list.findIndex(
        (st) => st.uses === "./actions/release" && asObj(st.with).mode === "publish",
      );
      if (publish < 0) return [];
      const attest = list.findIndex(
        (st) => typeof st.uses === "string" && st.uses.startsWith("actions/attest-build-provenance@"),
      );
      if (attest >= 0 && attest < publish) return [];
      return [
        {
          rule: "release-attested",
          file: wf.name,
          message: `job ${id} publishes a release without an actions/attest-build-provenance step before it`,
        },
      ];
    }),
  );

export const RULES: Record<string, Rule> = {
  "no-pull-request-target": noPullRequestTarget,
  "top-permissions": topPermissions,
  "pinned-uses": pinnedUses,
  "checkout-credentials": checkoutCredentials,
  "pr-read-only": prReadOnly,
  "fork-approval": forkApproval,
  "workflow-run-trusted": workflowRunTrusted,
  "reusable-inputs": reusableInputs,
  "local-action-io": localActionIO,
  "writes-hosted": writesHosted,
  "release-attested": releaseAttested,
  "zizmor-ignores": zizmorIgnores,
};

export interface PolicyOptions {
  /** Run this rule only. */
  only?: string;
}

/**
 * Every rule on a set of workflows (keyed by file name; reusable workflows are followed by name),
 * with the local actions' interfaces as their action.yml files declare them.
 */
export function checkPolicy(
  workflows: readonly WorkflowFile[],
  actions: readonly LocalAction[],
  options: PolicyOptions = {},
): PolicyFinding[] {
  const all = new Map(workflows.map((w) => [w.name, w]));
  const effective = effectiveTriggers(all);
  const local: LocalActions = {
    declared: new Map(actions.map((a) => [a.name, a])),
  };
  return Object.entries(RULES)
    .filter(([name]) => options.only === undefined || name === options.only)
    .flatMap(([, rule]) => rule(all, effective, local));
}
