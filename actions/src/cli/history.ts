/**
 * `pte-farm history append|list|compact|migrate`: run records into a history store, a cell's
 * records out of one, a git data branch compacted, a history moved between stores (history/open.ts
 * opens `dir:`, `git:` and `postgres` stores). A record file that is missing or fails its schema
 * is bad input (exit 2), named by path.
 */
import { parseArgs } from "node:util";
import { type BisectRecord, bisectRecord } from "../bisect/record.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { parse, ValidationError } from "../core/validate.ts";
import { GitBranchStore } from "../history/git-branch.ts";
import { migrate } from "../history/migrate.ts";
import { openStore } from "../history/open.ts";
import { checkRunRecord, readRecordJson } from "../records/read.ts";
import { cleanSamples, median } from "../records/samples.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { usageErrors } from "./args.ts";

const BISECT_SCHEMA = "pte-farm/bisect@1";

export const HISTORY_USAGE = `pte-farm history append --store STORE RECORD...
pte-farm history list --store STORE [--cell ID]
pte-farm history compact --store git:REPO[#branch] [--before YYYY-MM]
pte-farm history migrate --from STORE --to STORE
  STORE             dir:PATH (a folder), git:REPO[#branch] (a data branch, default
                    pte-farm-data; pushed to origin when the repository has one), or
                    postgres[:ENV] (PostgreSQL; the URL, password included, is read from
                    $PTE_FARM_HISTORY_URL or $ENV and never given as an argument)
  append            run records (run.json) and bisect records (bisect.json), each
                    known by its schema
  compact           folds record files of months before --before (default: the newest
                    record's month) into one file per cell per month, as a new root commit
  migrate           copies every record, health report and bisect record, then checks counts and a
                    content hash of both stores (exit 3 if anything is missing)`;

/**
 * Run records (run.json) and bisect records (bisect.json, told apart by their `schema`), each file
 * read once and every one checked before anything is written: a bad one appends nothing.
 */
async function historyAppend(opts: { store: string; files: string[]; logger: Logger }): Promise<void> {
  const records: RunRecord[] = [];
  const bisects: BisectRecord[] = [];
  if (opts.files.length === 0)
    throw new ConfigurationError("no record given; pass one or more run.json or bisect.json files");
  for (const f of opts.files) {
    const { name, raw } = await readRecordJson(f);
    if ((raw as { schema?: unknown } | null)?.schema !== BISECT_SCHEMA) {
      records.push(checkRunRecord(raw, name));
      continue;
    }
    try {
      bisects.push(parse(bisectRecord, raw, name));
    } catch (err) {
      if (err instanceof ValidationError)
        throw new ConfigurationError(`${err.message} (not a valid ${BISECT_SCHEMA} record)`);
      throw err;
    }
  }
  const store = openStore(opts.store);
  const paths = [...(await store.append(records)), ...(await store.appendBisects(bisects))];
  for (const p of paths) opts.logger.info(p);
  opts.logger.info(
    `appended ${records.length} record(s)${bisects.length === 0 ? "" : ` and ${bisects.length} bisect record(s)`} to ${store.describe()}`,
  );
}

async function historyList(opts: { store: string; cell?: string; logger: Logger }): Promise<void> {
  const store = openStore(opts.store);
  let n = 0;
  for await (const { path, record } of store.query(opts.cell === undefined ? {} : { cell: opts.cell })) {
    const decode = median(cleanSamples(record.metrics.decode_tokens_per_sec));
    opts.logger.info(
      [record.started_at, record.role, record.status, decode === null ? "—" : decode.toFixed(2), path].join(
        "\t",
      ),
    );
    n++;
  }
  opts.logger.info(`${n} record(s) in ${store.describe()}${opts.cell ? ` for ${opts.cell}` : ""}`);
}

async function historyCompact(opts: { store: string; before?: string; logger: Logger }): Promise<void> {
  const store = openStore(opts.store);
  if (!(store instanceof GitBranchStore)) {
    throw new ConfigurationError(
      `history compact: ${store.describe()} is not a git store; only git: stores are compacted`,
    );
  }
  if (opts.before !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(opts.before)) {
    throw new ConfigurationError(`history compact: --before ${opts.before}: expected a month, YYYY-MM`);
  }
  const r = await store.compact(opts.before === undefined ? {} : { before: opts.before });
  opts.logger.info(
    r.commit === null
      ? `nothing to compact in ${store.describe()} (${r.records} record(s))`
      : `compacted ${store.describe()}: ${r.folded} record file(s) into ${r.months} month file(s); ${r.records} record(s); commit ${r.commit}`,
  );
}

/** `pte-farm history …`: argv in, exit code out. */
export async function historyCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  const { values, positionals } = usageErrors("history", () =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        store: { type: "string" },
        cell: { type: "string" },
        before: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help || sub === "--help" || sub === "-h") {
    logger.info(HISTORY_USAGE);
    return EXIT.ok;
  }
  if (sub === "migrate") {
    if (values.from === undefined || values.to === undefined) {
      throw new ConfigurationError("history migrate: --from STORE and --to STORE are required");
    }
    const [from, to] = [openStore(values.from), openStore(values.to)];
    const r = await migrate(from, to, (m) => logger.info(m));
    logger.info(
      `migrated ${r.records} record(s), ${r.health} health report(s) and ${r.bisects} bisect record(s) from ${from.describe()} to ${to.describe()}; ` +
        `content hash ${r.contentHash} on both sides` +
        (r.targetOnly > 0 ? `; the target also holds ${r.targetOnly} record(s) of its own` : ""),
    );
    return EXIT.ok;
  }
  if (values.store === undefined)
    throw new ConfigurationError("history: --store STORE is required (see pte-farm help history)");
  if (sub === "append") {
    await historyAppend({ store: values.store, files: positionals, logger });
    return EXIT.ok;
  }
  if (sub === "list") {
    await historyList({
      store: values.store,
      ...(values.cell === undefined ? {} : { cell: values.cell }),
      logger,
    });
    return EXIT.ok;
  }
  if (sub === "compact") {
    await historyCompact({
      store: values.store,
      ...(values.before === undefined ? {} : { before: values.before }),
      logger,
    });
    return EXIT.ok;
  }
  throw new ConfigurationError(`history ${sub ?? "(missing)"}: expected append, list, compact or migrate`);
}
