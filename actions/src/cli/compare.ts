/**
 * `pte-farm compare` and `pte-farm detect`: read and validate run records, call the pure code
 * (compare.ts, detect.ts), print JSON or markdown. Bad input is a ConfigurationError naming the
 * file, the JSON path and, for samples, the metric and rep; main.ts turns it into exit 2.
 */
import { renderComparison } from "../../../reports/compare.ts";
import { type CompareConfig, loadCompareConfig, settingsFor } from "../compare/config.ts";
import { cellSeries, type Detection, detectSeries } from "../compare/detect.ts";
import { type CompareFilesOptions, compareFiles } from "../compare/files.ts";
import type { Comparison } from "../compare/verdicts.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { readRunRecord, recordFiles } from "../records/read.ts";

export interface CompareOptions extends CompareFilesOptions {
  format: "json" | "markdown";
  logger: Logger;
}

/** Prints the comparison; returns it so main.ts can choose the exit code. */
export async function compareCommand(opts: CompareOptions): Promise<Comparison> {
  const result = await compareFiles(opts);
  opts.logger.info(opts.format === "json" ? JSON.stringify(result, null, 2) : renderComparison(result));
  return result;
}

export interface DetectOptions {
  history: string[];
  cell: string;
  metric: string;
  config?: string;
  logger: Logger;
}

export async function detectCommand(opts: DetectOptions): Promise<Detection> {
  const config: CompareConfig = await loadCompareConfig(opts.config);
  const files = await recordFiles(opts.history);
  const records = await Promise.all(files.map(readRunRecord));
  const series = cellSeries(records, opts.cell, opts.metric);
  if (series.length === 0) {
    const cells = [...new Set(records.map((r) => r.cell.id))].sort();
    throw new ConfigurationError(
      `no passing record of cell ${opts.cell} with metric ${opts.metric} in ${files.length} record(s); ` +
        `cells present: ${cells.join(", ") || "none"}`,
    );
  }
  const device = records.find((r) => r.cell.id === opts.cell)?.cell.device ?? "";
  const { min_effect } = settingsFor(config, opts.metric, device);
  const result = detectSeries(series, opts.cell, opts.metric, { minEffect: min_effect });
  opts.logger.info(JSON.stringify(result, null, 2));
  return result;
}
