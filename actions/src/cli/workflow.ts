/**
 * Two small steps the farm's workflows run between actions (scripts/find-base.ts and
 * scripts/nightly-candidates.ts are their entries). The decisions are elsewhere and pure
 * (nightly.ts); this reads the files, calls them, and writes `$GITHUB_OUTPUT`.
 */
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { githubOutput } from "../../../matrix/shard.ts";
import { loadCompareConfig } from "../compare/config.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { arr, nonEmptyStr, obj, open, parseJson } from "../core/validate.ts";
import { nightly } from "../history/nightly.ts";
import { openStore, openStoreOrFolder } from "../history/open.ts";
import { collect, nightlySeries, serialize } from "../history/store.ts";
import { recordsUnder } from "../records/read.ts";
import type { RunRecord } from "../schemas/run-record.ts";

async function setOutputs(env: NodeJS.ProcessEnv, outputs: Record<string, unknown>): Promise<void> {
  const target = env.GITHUB_OUTPUT;
  if (target !== undefined && target !== "") await appendFile(target, githubOutput(outputs));
}

/** The newest passing nightly record of `cell`: what main's code measured on that device lately. */
export function newestNightly(records: readonly RunRecord[], cell: string): RunRecord | null {
  const nightlies = records.filter((r) => r.cell.id === cell && r.role === "nightly" && r.status === "pass");
  return nightlies.sort((a, b) => a.started_at.localeCompare(b.started_at)).at(-1) ?? null;
}

/**
 * farm-device.yml, for a pull request: the base to compare the head against, from the cell's
 * folder of the history branch (checked out read-only into `history`; absent when there is no
 * history yet). Writes it to `out` and sets the output `found` to true or false.
 */
export async function findBaseCommand(opts: {
  history: string;
  cell: string;
  out: string;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}): Promise<RunRecord | null> {
  const store = openStoreOrFolder(opts.history);
  const base = newestNightly(await collect(store, { cell: opts.cell, role: "nightly" }), opts.cell);
  if (base === null) {
    opts.logger.info(`no passing nightly record of ${opts.cell} in the history: nothing to compare against`);
  } else {
    await mkdir(path.dirname(opts.out), { recursive: true });
    await writeFile(opts.out, serialize(base));
    opts.logger.info(
      `base: the nightly of ${base.started_at} (commit ${base.git_sha ?? "unknown"}, session ${base.session})`,
    );
  }
  await setOutputs(opts.env, { found: base !== null });
  return base;
}

/** The plan's device list as the workflow holds it: `{include: [entry, ...]}`, entries kept whole. */
const deviceList = obj({ include: arr(open({ cell: nonEmptyStr })) });

/**
 * farm-nightly.yml's history job: appends tonight's records (every *.json under `records`) to the
 * store, runs the nightly bookkeeping over the whole history, and sets the output `confirm` to the
 * device jobs (plan entries, `{include: [...]}`) that re-run the candidate cells.
 */
export async function nightlyCandidatesCommand(opts: {
  store: string;
  records: string;
  devices: string;
  config?: string;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}) {
  const text = await readFile(opts.devices, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(`cannot read --devices ${opts.devices} (${err.code ?? err.message})`);
  });
  const devices = parseJson(deviceList, text, opts.devices).include;
  const tonight = await recordsUnder(opts.records);
  const store = openStore(opts.store);
  const appended = await store.append(tonight);
  opts.logger.info(`appended ${appended.length} record(s) to ${store.describe()}`);
  const history = await nightlySeries(
    store,
    tonight.map((r) => r.cell.id),
  );
  const decision = nightly({ history, tonight, config: await loadCompareConfig(opts.config) });
  for (const c of decision.candidates) opts.logger.info(`candidate: ${c.cell} ${c.metric}: ${c.reason}`);
  for (const n of decision.notes) opts.logger.info(n);
  const cells = new Set(decision.candidates.map((c) => c.cell));
  const confirm = devices.filter((d) => cells.has(d.cell));
  const missing = [...cells].filter((c) => !confirm.some((d) => d.cell === c));
  if (missing.length > 0) {
    throw new ConfigurationError(
      `candidate cell(s) ${missing.join(", ")} are not in the plan's device list ${opts.devices}`,
    );
  }
  opts.logger.info(`${confirm.length} cell(s) to re-run for confirmation`);
  await setOutputs(opts.env, { confirm: { include: confirm } });
  return { appended, decision, confirm };
}
