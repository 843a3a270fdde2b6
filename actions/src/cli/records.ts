/**
 * `pte-farm history` and `pte-farm export`: commands that read run records given on the command
 * line. A record file that is missing or fails its schema is bad input (exit 2), named by path.
 */
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { openStore } from "../history/open.ts";
import { EXPORT_FORMATS, type ExportFormat } from "../records/formats/index.ts";
import { readRecords } from "../records/read.ts";
import { cleanSamples, median } from "../records/samples.ts";

export async function historyAppend(opts: { store: string; files: string[]; logger: Logger }): Promise<void> {
  const store = openStore(opts.store);
  const paths = await store.append(await readRecords(opts.files));
  for (const p of paths) opts.logger.info(p);
  opts.logger.info(`appended ${paths.length} record(s) to ${store.describe()}`);
}

export async function historyList(opts: { store: string; cell?: string; logger: Logger }): Promise<void> {
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

export async function exportCommand(opts: {
  format: string;
  files: string[];
  logger: Logger;
}): Promise<void> {
  if (!Object.hasOwn(EXPORT_FORMATS, opts.format)) {
    throw new ConfigurationError(
      `--format ${opts.format}: expected one of ${Object.keys(EXPORT_FORMATS).join(", ")}`,
    );
  }
  const records = await readRecords(opts.files);
  opts.logger.info(JSON.stringify(EXPORT_FORMATS[opts.format as ExportFormat](records), null, 2));
}
