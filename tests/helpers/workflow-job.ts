/**
 * Runs one job of a real workflow file here, step by step, the way a runner would as far as the
 * hand-off between jobs is concerned: `./actions/<name>` under @github/local-action, `run:`
 * scripts under bash with RUNNER_TEMP and GITHUB_OUTPUT, upload/download-artifact as folder
 * copies into a shared artefact folder, and `if:`, `with:` and `env:` expressions evaluated.
 *
 * What a runner would set up first (checkout, setup-node/python, actions/cache, `make setup`) is
 * already the state of this checkout, so those steps count as done. An expression or step this
 * cannot run throws, naming it, so a workflow change the emulation does not understand fails the
 * test instead of being skipped.
 */
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { ACTION_NAMES, type ActionName } from "../../actions/src/action-runs/io-table.ts";
import { REPO_ROOT } from "../../actions/src/core/paths.ts";
import type { WorkflowFile } from "../../scripts/workflow-policy/workflow.ts";
import { runLocalAction } from "./local-action.ts";

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };
type Obj = Record<string, unknown>;

export interface JobContext {
  /** The reusable workflow's `inputs`. */
  inputs: Record<string, string | boolean>;
  /** `github.sha`; `github.event` is that of a push (no pull_request). */
  sha: string;
  /** This job's runner.temp (each job of a run has its own). */
  runnerTemp: string;
  /** The run's artefacts, one folder per name, shared by its jobs. */
  artifacts: string;
  /** Environment for the actions and scripts (PTE_FARM_PYTHON, offline Hugging Face...). */
  env: Record<string, string>;
  /** `github.event` and `github.event_name`; default a push with an empty payload. */
  event?: { name: string; payload: Record<string, Value> };
  /** `github.workspace`; default this checkout. Set it when a step checks something out into it. */
  workspace?: string;
  /**
   * The repository's other branches, by name, as folders. When given, a checkout of `ref: <name>`
   * into `path:` copies that folder to workspace/path, and a name not listed fails as a missing
   * branch would. When absent, every checkout counts as done (the state of this checkout).
   */
  branches?: Record<string, string>;
  /** The repository's variables (`vars`) and secrets (`secrets`); default none. */
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  /** `github.ref`; default refs/heads/main. */
  ref?: string;
  /** The outputs of the jobs this one `needs`. */
  needs?: Record<string, { result: string; outputs: Record<string, string> }>;
  /**
   * Where an `actions/attest-build-provenance` step's subjects go. Signing needs Sigstore and
   * GitHub's attestations API, neither reachable here: the step is emulated by reading its
   * `subject-checksums` file (which must parse as sha256sum lines) and recording the subjects.
   */
  attestations?: { name: string; sha256: string }[][];
}

export interface StepRun {
  /** The step's id, else its name, else its `uses`/`run`. */
  step: string;
  outcome: "success" | "failure" | "skipped";
  outputs: Record<string, string>;
  /** The local action's or script's output, for failure messages. */
  log: string;
}

/** Steps whose effect is the state of this checkout already. */
function preparedHere(s: Obj): boolean {
  const uses = typeof s.uses === "string" ? s.uses : "";
  return (
    /^actions\/(checkout|setup-node|setup-python|cache)@/.test(uses) ||
    (typeof s.run === "string" && s.run.trim() === "make setup")
  );
}

/** A checkout of another branch (a literal `ref:`) into `path:`, emulated when `ctx.branches` is given. */
function otherBranch(s: Obj, ctx: JobContext): { ref: string; path: string } | null {
  const uses = typeof s.uses === "string" ? s.uses : "";
  const w = (s.with as Obj | undefined) ?? {};
  if (ctx.branches === undefined || !/^actions\/checkout@/.test(uses)) return null;
  if (typeof w.ref !== "string" || w.ref.includes("${{") || typeof w.path !== "string") return null;
  return { ref: w.ref, path: w.path };
}

// --- expressions: the subset the farm's workflows use ------------------------------------------

const TOKEN = /\s*(?:(\|\||&&|==|!=|!|\(|\)|\.|,)|'((?:[^']|'')*)'|([A-Za-z_][\w-]*))/y;

function tokenize(expr: string): { op?: string; str?: string; id?: string }[] {
  const out: { op?: string; str?: string; id?: string }[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.trimEnd().length) {
    const m = TOKEN.exec(expr);
    if (m === null) throw new Error(`workflow-job: cannot read expression ${JSON.stringify(expr)}`);
    if (m[1] !== undefined) out.push({ op: m[1] });
    else if (m[2] !== undefined) out.push({ str: m[2].replaceAll("''", "'") });
    else out.push({ id: m[3] as string });
  }
  return out;
}

const truthy = (v: Value): boolean => v !== null && v !== false && v !== "" && v !== 0;
const text = (v: Value): string => (v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function evaluate(expr: string, scope: Record<string, Value>, failed: boolean): Value {
  const t = tokenize(expr);
  let i = 0;
  const peek = (op: string) => t[i]?.op === op;
  const take = (op: string) => {
    if (!peek(op)) throw new Error(`workflow-job: expected ${op} in ${JSON.stringify(expr)}`);
    i++;
  };
  const call = (name: string, args: Value[]): Value => {
    switch (name) {
      case "success":
        return !failed;
      case "failure":
        return failed;
      case "always":
        return true;
      case "cancelled":
        return false;
      case "fromJSON":
        return JSON.parse(text(args[0] ?? null)) as Value;
      case "toJSON":
        return JSON.stringify(args[0] ?? null);
      case "format":
        return text(args[0] ?? null).replace(/\{(\d+)\}/g, (_, n: string) =>
          text(args[Number(n) + 1] ?? null),
        );
      default:
        throw new Error(`workflow-job: function ${name}() is not emulated (${JSON.stringify(expr)})`);
    }
  };
  const primary = (): Value => {
    const tok = t[i++];
    if (tok === undefined) throw new Error(`workflow-job: ${JSON.stringify(expr)} ends early`);
    if (tok.op === "(") {
      const v = or();
      take(")");
      return v;
    }
    if (tok.str !== undefined) return tok.str;
    if (tok.id === undefined)
      throw new Error(`workflow-job: unexpected ${tok.op} in ${JSON.stringify(expr)}`);
    if (peek("(")) {
      take("(");
      const args: Value[] = [];
      while (!peek(")")) {
        args.push(or());
        if (peek(",")) take(",");
      }
      take(")");
      return call(tok.id, args);
    }
    if (tok.id === "true" || tok.id === "false") return tok.id === "true";
    if (tok.id === "null") return null;
    if (!(tok.id in scope)) throw new Error(`workflow-job: context ${tok.id} is not emulated`);
    return scope[tok.id] as Value;
  };
  const postfix = (): Value => {
    let v = primary();
    while (peek(".")) {
      take(".");
      const key = t[i++]?.id;
      if (key === undefined) throw new Error(`workflow-job: bad property in ${JSON.stringify(expr)}`);
      v = v !== null && typeof v === "object" && !Array.isArray(v) ? (v[key] ?? null) : null;
    }
    return v;
  };
  const unary = (): Value => {
    if (peek("!")) {
      take("!");
      return !truthy(unary());
    }
    return postfix();
  };
  const eq = (): Value => {
    const a = unary();
    for (const op of ["==", "!="]) {
      if (peek(op)) {
        take(op);
        const same = text(a) === text(unary());
        return op === "==" ? same : !same;
      }
    }
    return a;
  };
  const and = (): Value => {
    let v = eq();
    while (peek("&&")) {
      take("&&");
      const r = eq();
      v = truthy(v) ? r : v;
    }
    return v;
  };
  function or(): Value {
    let v = and();
    while (peek("||")) {
      take("||");
      const r = and();
      v = truthy(v) ? v : r;
    }
    return v;
  }
  const v = or();
  if (i !== t.length) throw new Error(`workflow-job: trailing tokens in ${JSON.stringify(expr)}`);
  return v;
}

function interpolate(s: string, scope: Record<string, Value>, failed: boolean): string {
  return s.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, e: string) => text(evaluate(e, scope, failed)));
}

function condition(raw: unknown, scope: Record<string, Value>, failed: boolean): boolean {
  if (raw === undefined) return !failed;
  const expr = String(raw)
    .trim()
    .replace(/^\$\{\{([\s\S]*)\}\}$/, "$1");
  const status = /\b(success|failure|always|cancelled)\(\)/.test(expr);
  return truthy(evaluate(status ? expr : `success() && (${expr})`, scope, failed));
}

// --- steps --------------------------------------------------------------------------------------

async function hasFiles(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return false;
  return (await readdir(dir, { recursive: true, withFileTypes: true })).some((e) => e.isFile());
}

async function readOutputs(file: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const lines = (await readFile(file, "utf8").catch(() => "")).split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc !== null) {
      const body: string[] = [];
      while (++n < lines.length && lines[n] !== heredoc[2]) body.push(lines[n] as string);
      out[heredoc[1] as string] = body.join("\n");
    } else if (line.includes("=")) {
      out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
    }
  }
  return out;
}

/** Runs `jobId` of `wf`; stops nothing early, as a runner evaluates every step's `if:`. */
export async function runJob(wf: WorkflowFile, jobId: string, ctx: JobContext): Promise<StepRun[]> {
  const job = (wf.doc.jobs as Record<string, Obj>)[jobId];
  if (job === undefined) throw new Error(`workflow-job: ${wf.name} has no job ${jobId}`);
  await mkdir(ctx.runnerTemp, { recursive: true });
  const steps: Record<string, Value> = {};
  const scope: Record<string, Value> = {
    inputs: ctx.inputs,
    github: {
      sha: ctx.sha,
      event: ctx.event?.payload ?? {},
      event_name: ctx.event?.name ?? "push",
      workspace: ctx.workspace ?? REPO_ROOT,
      ref: ctx.ref ?? "refs/heads/main",
      token: "ghs_workflow-job-token",
    },
    needs: (ctx.needs ?? {}) as Value,
    runner: { temp: ctx.runnerTemp, environment: "github-hosted", os: "Linux" },
    steps,
    env: {},
    vars: ctx.vars ?? {},
    secrets: ctx.secrets ?? {},
  };
  const jobEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries((job.env as Obj | undefined) ?? {}))
    jobEnv[k] = interpolate(String(v), scope, false);
  scope.env = { ...jobEnv };

  const runs: StepRun[] = [];
  let failed = false;
  for (const s of (job.steps as Obj[] | undefined) ?? []) {
    const label = String(s.id ?? s.name ?? s.uses ?? s.run);
    const record = (outcome: StepRun["outcome"], outputs: Record<string, string> = {}, log = "") => {
      runs.push({ step: label, outcome, outputs, log });
      if (typeof s.id === "string") steps[s.id] = { outcome, conclusion: outcome, outputs };
      if (outcome === "failure" && s["continue-on-error"] !== true) failed = true;
    };
    if (!condition(s.if, scope, failed)) {
      record("skipped");
      continue;
    }
    const branch = otherBranch(s, ctx);
    if (branch !== null) {
      const source = ctx.branches?.[branch.ref];
      if (source !== undefined)
        await cp(source, path.resolve(ctx.workspace ?? REPO_ROOT, branch.path), { recursive: true });
      record(
        source === undefined ? "failure" : "success",
        {},
        source === undefined ? `no branch ${branch.ref}` : "",
      );
      continue;
    }
    if (preparedHere(s)) {
      record("success");
      continue;
    }
    const withs = Object.fromEntries(
      Object.entries((s.with as Obj | undefined) ?? {}).map(([k, v]) => [
        k,
        interpolate(String(v), scope, failed),
      ]),
    );
    const env = {
      ...ctx.env,
      ...jobEnv,
      ...Object.fromEntries(
        Object.entries((s.env as Obj | undefined) ?? {}).map(([k, v]) => [
          k,
          interpolate(String(v), scope, failed),
        ]),
      ),
    };
    const uses = typeof s.uses === "string" ? s.uses : null;
    const local = uses === null ? null : /^\.\/actions\/([\w-]+)$/.exec(uses)?.[1];
    if (local !== undefined && local !== null) {
      if (!(ACTION_NAMES as string[]).includes(local)) throw new Error(`workflow-job: no action ${local}`);
      const run = await runLocalAction(local as ActionName, withs, env);
      record(run.exitCode === 0 ? "success" : "failure", run.outputs, run.stdout);
    } else if (uses?.startsWith("actions/upload-artifact@")) {
      const from = withs.path as string;
      const ok = await hasFiles(from);
      if (ok) await cp(from, path.join(ctx.artifacts, withs.name as string), { recursive: true });
      record(ok || withs["if-no-files-found"] !== "error" ? "success" : "failure");
    } else if (uses?.startsWith("actions/download-artifact@")) {
      if (withs.name === undefined) {
        // By pattern: every matching artefact, into path/<name>/, or merged into path.
        const re = new RegExp(
          `^${(withs.pattern ?? "*").replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`,
        );
        const names = existsSync(ctx.artifacts)
          ? (await readdir(ctx.artifacts)).filter((n) => re.test(n))
          : [];
        for (const name of names) {
          const to =
            withs["merge-multiple"] === "true"
              ? (withs.path as string)
              : path.join(withs.path as string, name);
          await cp(path.join(ctx.artifacts, name), to, { recursive: true });
        }
        record("success");
      } else {
        const from = path.join(ctx.artifacts, withs.name);
        const ok = existsSync(from);
        if (ok) await cp(from, withs.path as string, { recursive: true });
        record(ok ? "success" : "failure");
      }
    } else if (uses?.startsWith("actions/attest-build-provenance@")) {
      if (ctx.attestations === undefined)
        throw new Error("workflow-job: attestation steps need ctx.attestations");
      const file = withs["subject-checksums"];
      if (file === undefined || file === "")
        throw new Error("workflow-job: only subject-checksums attestations are emulated");
      const subjects = (await readFile(file, "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
          if (m === null) throw new Error(`workflow-job: ${file} is not sha256sum output: ${line}`);
          return { sha256: m[1] as string, name: m[2] as string };
        });
      ctx.attestations.push(subjects);
      record("success");
    } else if (typeof s.run === "string") {
      const script = path.join(ctx.runnerTemp, `step-${runs.length}.sh`);
      const outputs = path.join(ctx.runnerTemp, `step-${runs.length}.out`);
      await writeFile(script, interpolate(s.run, scope, failed));
      await writeFile(outputs, "");
      const res = await execa("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
        cwd: REPO_ROOT,
        reject: false,
        all: true,
        env: { ...env, RUNNER_TEMP: ctx.runnerTemp, GITHUB_OUTPUT: outputs, GITHUB_WORKSPACE: REPO_ROOT },
      });
      record(res.exitCode === 0 ? "success" : "failure", await readOutputs(outputs), res.all ?? "");
    } else {
      throw new Error(`workflow-job: ${wf.name} job ${jobId} step ${label} is not emulated`);
    }
  }
  return runs;
}
