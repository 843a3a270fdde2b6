/**
 * `pte-farm bisect`: which package, and which of its releases, first breaks a cell between a good
 * and a bad lock. Each step resolves a lock (bisect/locks.ts), builds or finds its environment
 * (toolchain/envs.ts), runs the probe in it (bisect/probes.ts) and classifies what it saw against
 * the bad lock's failure; the search (bisect/search.ts) decides what to try next. Every decisive
 * step is kept under `<out>/steps/`, so an interrupted bisection resumes where it stopped.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { normalize } from "../core/requirements.ts";
import { parse } from "../core/validate.ts";
import { type Env, ensureEnv } from "../toolchain/envs.ts";
import { describeLock, diffLocks, type Lock, lockJson, renderChange } from "../toolchain/lock.ts";
import { releasedVersions } from "../toolchain/pip.ts";
import { ToolchainIncompatibleError } from "../toolchain/resolve.ts";
import { failureJudge, speedJudge } from "./judge.ts";
import { lockWith } from "./locks.ts";
import type { Observation, Probe } from "./probes.ts";
import { type BisectRecord, type BisectStep, bisectRecord, renderBisectMarkdown } from "./record.ts";
import { between, Search, type StepResult } from "./search.ts";

export interface BisectOptions {
  good: Lock;
  bad: Lock;
  probe: Probe;
  /** The farm's interpreter: its pip resolves and installs. */
  python: string;
  out: string;
  envsRoot?: string;
  metric?: string | null;
  attempts?: number;
  maxInfra?: number;
  /** How to reproduce one step, given the lock file of it. */
  reproduce: (lockFile: string) => string;
  logger: Logger;
}

interface Seen {
  observation: Observation;
  built: boolean;
  seconds: number;
}

export async function bisect(opts: BisectOptions): Promise<BisectRecord> {
  const started = Date.now();
  const { logger } = opts;
  const logFile = path.join(opts.out, "pip.log");
  await mkdir(path.join(opts.out, "steps"), { recursive: true });
  await mkdir(path.join(opts.out, "locks"), { recursive: true });
  const steps: BisectStep[] = [];
  const pipOpts = { python: opts.python, logger, logFile };

  /** Builds (or finds) the lock's environment and runs the probe in it; decisive observations are kept. */
  const observe = async (lock: Lock): Promise<Seen> => {
    const file = path.join(opts.out, "steps", `${lock.id}.json`);
    const kept = await readFile(file, "utf8").catch(() => null);
    if (kept !== null) return { ...(JSON.parse(kept) as Seen), built: false, seconds: 0 };
    await writeFile(path.join(opts.out, "locks", `${lock.id}.json`), lockJson(lock));
    const t = Date.now();
    let env: Env;
    try {
      env = await ensureEnv(lock, {
        python: opts.python,
        logger,
        logFile,
        ...(opts.envsRoot === undefined ? {} : { root: opts.envsRoot }),
      });
    } catch (err) {
      if (err instanceof ToolchainIncompatibleError) {
        const seen = {
          observation: {
            outcome: "incompatible" as const,
            stage: null,
            signature: null,
            detail: err.message,
          },
          built: false,
          seconds: (Date.now() - t) / 1000,
        };
        await writeFile(file, JSON.stringify(seen));
        return seen;
      }
      if (err instanceof InfrastructureError) {
        return {
          observation: { outcome: "infra", stage: null, signature: null, detail: err.message },
          built: false,
          seconds: (Date.now() - t) / 1000,
        };
      }
      throw err;
    }
    const observation = await opts.probe.observe(env, path.join(opts.out, "steps", lock.id));
    const seen = { observation, built: !env.cached, seconds: (Date.now() - t) / 1000 };
    if (observation.outcome !== "infra") await writeFile(file, JSON.stringify(seen));
    return seen;
  };

  const endpoint = async (label: "good" | "bad", lock: Lock): Promise<Observation> => {
    for (let attempt = 1; ; attempt++) {
      logger.info(`bisect: ${label} endpoint, lock ${lock.id} (${describeLock(lock)})`);
      const seen = await observe(lock);
      const o = seen.observation;
      steps.push({
        package: `(${label})`,
        version: lock.toolchain,
        lock: lock.id,
        verdict: o.outcome === "infra" ? "retry" : label,
        reason: o.detail.split("\n")[0] ?? "",
        attempts: attempt,
        built: seen.built,
        companions: [],
        seconds: seen.seconds,
      });
      if (o.outcome !== "infra") return o;
      if (attempt >= (opts.attempts ?? 2))
        throw new InfrastructureError(
          `bisect: the ${label} endpoint failed for infrastructure reasons: ${o.detail}`,
        );
    }
  };

  const good = await endpoint("good", opts.good);
  const bad = await endpoint("bad", opts.bad);
  const judge =
    opts.metric == null
      ? failureJudge(opts.probe.describe, opts.good.id, opts.bad.id, good, bad)
      : await speedJudge(opts.probe.describe, opts.metric, opts.probe.device, good, bad, {
          good: opts.good.id,
          bad: opts.bad.id,
        });
  logger.info(`bisect: bad side: ${judge.evidence.stage}: ${judge.evidence.signature}`);

  /** The good lock measured again beside a speed step (its observation is not kept: it is of this moment). */
  const goodAgain = async (): Promise<Observation | null> => {
    if (!judge.remeasureGood) return null;
    const env = await ensureEnv(opts.good, {
      python: opts.python,
      logger,
      logFile,
      ...(opts.envsRoot === undefined ? {} : { root: opts.envsRoot }),
    });
    return opts.probe.observe(env, path.join(opts.out, "steps", `${opts.good.id}-again-${steps.length}`));
  };

  /** One row per (package, version): a retried step's row counts its attempts. */
  const note = (row: BisectStep): void => {
    const last = steps[steps.length - 1];
    if (
      last !== undefined &&
      last.package === row.package &&
      last.version === row.version &&
      last.verdict === "retry"
    ) {
      steps[steps.length - 1] = { ...row, attempts: last.attempts + 1, seconds: last.seconds + row.seconds };
    } else {
      steps.push(row);
    }
  };

  /** The step's lock (kept under locks/, as is a version that does not resolve), or why there is none. */
  const movedLock = async (
    name: string,
    version: string,
  ): Promise<{ lock: Lock; companions: string[] } | StepResult> => {
    const base = path.join(opts.out, "locks", `${normalize(name)}==${version}`);
    const kept = await readFile(`${base}.json`, "utf8").catch(() => null);
    const refused = await readFile(`${base}.incompatible.txt`, "utf8").catch(() => null);
    if (refused !== null) return { verdict: "skip", reason: refused };
    let lock: Lock;
    if (kept !== null) {
      lock = JSON.parse(kept) as Lock;
    } else {
      try {
        lock = (await lockWith(opts.good, name, version, pipOpts)).lock;
      } catch (err) {
        if (err instanceof InfrastructureError) return { verdict: "retry", reason: err.message };
        if (!(err instanceof ToolchainIncompatibleError)) throw err;
        const reason = `does not install with the rest held: ${err.message}`;
        await writeFile(`${base}.incompatible.txt`, reason);
        return { verdict: "skip", reason };
      }
      await writeFile(`${base}.json`, lockJson(lock));
    }
    const companions = diffLocks(opts.good, lock)
      .filter((c) => c.name !== normalize(name))
      .map(renderChange);
    return { lock, companions };
  };

  /** The index's release lists the search read, so the record counts releases without asking again. */
  const listedReleases = new Map<string, Awaited<ReturnType<typeof releasedVersions>>>();
  const search = new Search(
    {
      async step(name, version) {
        logger.info(`bisect: ${name} ${version} (the rest at good)`);
        const t = Date.now();
        const moved = await movedLock(name, version);
        if ("verdict" in moved) {
          note({
            package: name,
            version,
            lock: "-",
            ...moved,
            attempts: 1,
            built: false,
            companions: [],
            seconds: (Date.now() - t) / 1000,
          });
          return moved;
        }
        const seen = await observe(moved.lock);
        const result = judge.classify(
          seen.observation,
          seen.observation.outcome === "pass" ? await goodAgain() : null,
        );
        note({
          package: name,
          version,
          lock: moved.lock.id,
          ...result,
          attempts: 1,
          built: seen.built,
          companions: moved.companions,
          seconds: (Date.now() - t) / 1000,
        });
        logger.info(`  → ${result.verdict}: ${result.reason}`);
        return result;
      },
      async versions(name) {
        const r = await releasedVersions(opts.python, name);
        listedReleases.set(name, r);
        if (!r.ok)
          throw new InfrastructureError(
            `bisect: cannot list the releases of ${name}: ${r.output.trim().split("\n").slice(-3).join(" ")}`,
          );
        return r.versions;
      },
    },
    { attempts: opts.attempts ?? 2, maxInfra: opts.maxInfra ?? 3 },
  );
  const changes = diffLocks(opts.good, opts.bad);
  const outcome = await search.find(changes);

  const pkg = outcome.kind === "found" ? outcome.package : null;
  const moving = new Set(
    steps
      .filter((s) => s.package.startsWith("(") || s.package === pkg)
      .map((s) => s.lock)
      .filter((l) => l !== "-"),
  );
  const change = changes.find((c) => c.name === pkg);
  const listed =
    change?.from != null && change.to != null
      ? (listedReleases.get(change.name) ?? (await releasedVersions(opts.python, change.name)))
      : null;
  const firstBadLock =
    outcome.kind === "found"
      ? steps.find((s) => s.package === pkg && s.version === outcome.firstBad && s.verdict === "bad")
      : undefined;
  const reproduceLock =
    firstBadLock === undefined
      ? path.join(opts.out, "locks", `${opts.bad.id}.json`)
      : path.join(opts.out, "locks", `${firstBadLock.lock}.json`);
  await writeFile(path.join(opts.out, "locks", `${opts.bad.id}.json`), lockJson(opts.bad));
  const record: BisectRecord = {
    schema: "pte-farm/bisect@1",
    subject: opts.probe.describe,
    metric: opts.metric ?? null,
    good: { id: opts.good.id, toolchain: opts.good.toolchain, versions: describeLock(opts.good) },
    bad: { id: opts.bad.id, toolchain: opts.bad.toolchain, versions: describeLock(opts.bad) },
    changed: changes.map(renderChange),
    verdict: outcome.kind,
    package: pkg,
    last_good: outcome.kind === "found" ? outcome.lastGood : null,
    first_bad: outcome.kind === "found" ? outcome.firstBad : null,
    untestable: outcome.kind === "found" ? outcome.untestable : [],
    evidence:
      outcome.kind === "inconclusive-infrastructure"
        ? { stage: null, signature: null, detail: outcome.detail }
        : judge.evidence,
    builds: moving.size,
    released_between:
      listed === null || change?.from == null || change.to == null
        ? 0
        : (between(listed.versions, change.from, change.to)?.length ?? 0),
    steps,
    reproduce: opts.reproduce(reproduceLock),
    started_at: new Date(started).toISOString(),
    finished_at: new Date().toISOString(),
    wall_s: (Date.now() - started) / 1000,
  };
  const checked = parse(bisectRecord, record, "bisect record");
  await writeFile(path.join(opts.out, "bisect.json"), `${JSON.stringify(checked, null, 2)}\n`);
  await writeFile(path.join(opts.out, "bisect.md"), renderBisectMarkdown(checked));
  return checked;
}
