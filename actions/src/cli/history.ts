/**
 * `pte-farm history append` and `pte-farm history list`: run records into a history store, and a
 * cell's records out of one (history/open.ts opens `dir:` and `git:` stores). A record file that
 * is missing or fails its schema is bad input (exit 2), named by path.
 */
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { openStore } from "../history/open.ts";
import { readRunRecords } from "../records/read.ts";
import { cleanSamples, median } from "../records/samples.ts";
import { usageErrors } from "./args.ts";

export const HISTORY_USAGE = `pte-farm history append --store STORE RECORD...
pte-farm history list --store STORE [--cell ID]
  STORE             dir:PATH (one JSON file per record) or git:REPO[#branch] (a data branch,
                    default pte-farm-data; pushed to origin when the repository has one)`;

async function historyAppend(opts: { store: string; files: string[]; logger: Logger }): Promise<void> {
  const store = openStore(opts.store);
  const paths = await store.append(await readRunRecords(opts.files));
  for (const p of paths) opts.logger.info(p);
  opts.logger.info(`appended ${paths.length} record(s) to ${store.describe()}`);
}

async function historyList(opts: { store: string; cell?: string; logger: Logger }): Promise<void> {
  const store = openStore(opts.store);
  const items = await store.list(opts.cell);
  for (const { path, record } of items) {
    const decode = median(cleanSamples(record.metrics.decode_tokens_per_sec));
    opts.logger.info(
      [record.started_at, record.role, record.status, decode === null ? "—" : decode.toFixed(2), path].join(
        "\t",
      ),
    );
  }
  opts.logger.info(`${items.length} record(s) in ${store.describe()}${opts.cell ? ` for ${opts.cell}` : ""}`);
}

/** `pte-farm history append|list …`: argv in, exit code out. */
export async function historyCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  const { values, positionals } = usageErrors("history", () =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: { store: { type: "string" }, cell: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help || sub === "--help" || sub === "-h") {
    logger.info(HISTORY_USAGE);
    return EXIT.ok;
  }
  if (values.store === undefined)
    throw new ConfigurationError("history: --store dir:PATH | git:REPO[#branch] is required");
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
  throw new ConfigurationError(`history ${sub ?? "(missing)"}: expected append or list`);
}
