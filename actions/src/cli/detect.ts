/**
 * `pte-farm detect`: change points in one cell's nightly series of run records (compare/detect.ts),
 * printed as JSON. They are candidates: an issue needs a confirming re-run.
 */
import { parseArgs } from "node:util";
import { type CompareConfig, loadCompareConfig, settingsFor } from "../compare/config.ts";
import { cellSeries, type Detection, detectSeries } from "../compare/detect.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { openStore } from "../history/open.ts";
import { collect } from "../history/store.ts";
import { readRunRecord, recordFiles } from "../records/read.ts";
import { usageErrors } from "./args.ts";

export const DETECT_USAGE = `pte-farm detect (--history DIR|FILE [--history ...] | --store STORE) --cell ID --metric NAME [--config FILE]
  change points in the cell's nightly series (candidates: an issue needs a confirming re-run);
  --store reads only that cell's records from a history store (see pte-farm help history)`;

interface DetectOptions {
  history: string[];
  store?: string;
  cell: string;
  metric: string;
  config?: string;
  logger: Logger;
}

async function detectCommand(opts: DetectOptions): Promise<Detection> {
  const config: CompareConfig = await loadCompareConfig(opts.config);
  const store = opts.store === undefined ? null : openStore(opts.store);
  const files = store === null ? await recordFiles(opts.history, { flag: "--history" }) : [];
  const records =
    store === null ? await Promise.all(files.map(readRunRecord)) : await collect(store, { cell: opts.cell });
  const series = cellSeries(records, opts.cell, opts.metric);
  if (series.length === 0) {
    const cells = [...new Set(records.map((r) => r.cell.id))].sort();
    throw new ConfigurationError(
      store === null
        ? `no passing record of cell ${opts.cell} with metric ${opts.metric} in ${files.length} record(s); ` +
            `cells present: ${cells.join(", ") || "none"}`
        : `no passing record of cell ${opts.cell} with metric ${opts.metric} in ${store.describe()} ` +
            `(${records.length} record(s) of that cell)`,
    );
  }
  const device = records.find((r) => r.cell.id === opts.cell)?.cell.device ?? "";
  const { min_effect } = settingsFor(config, opts.metric, device);
  const result = detectSeries(series, opts.cell, opts.metric, { minEffect: min_effect });
  opts.logger.info(JSON.stringify(result, null, 2));
  return result;
}

/** `pte-farm detect …`: argv in, exit code out. */
export async function detectCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("detect", () =>
    parseArgs({
      args: argv,
      options: {
        history: { type: "string", multiple: true },
        store: { type: "string" },
        cell: { type: "string" },
        metric: { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(DETECT_USAGE);
    return EXIT.ok;
  }
  if (
    (values.history === undefined) === (values.store === undefined) ||
    values.cell === undefined ||
    values.metric === undefined
  ) {
    throw new ConfigurationError(
      "detect needs one of --history DIR|FILE or --store STORE, and --cell ID and --metric NAME",
    );
  }
  await detectCommand({
    history: values.history ?? [],
    ...(values.store === undefined ? {} : { store: values.store }),
    cell: values.cell,
    metric: values.metric,
    ...(values.config === undefined ? {} : { config: values.config }),
    logger,
  });
  return EXIT.ok;
}
