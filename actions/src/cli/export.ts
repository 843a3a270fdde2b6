/**
 * `pte-farm export`: run records as PyTorch OSS benchmark v3, github-action-benchmark or Bencher
 * BMF JSON (records/formats/). A record file that is missing or fails its schema is bad input
 * (exit 2), named by path.
 */
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { EXPORT_FORMATS, type ExportFormat } from "../records/formats/index.ts";
import { readRunRecords } from "../records/read.ts";
import { usageErrors } from "./args.ts";

export const EXPORT_USAGE = `pte-farm export --format pytorch-v3|gab-bigger|bencher-bmf RECORD...
  prints JSON; throttled or hot reps (sample_flags) are left out of every value`;

async function exportCommand(opts: { format: string; files: string[]; logger: Logger }): Promise<void> {
  if (!Object.hasOwn(EXPORT_FORMATS, opts.format)) {
    throw new ConfigurationError(
      `--format ${opts.format}: expected one of ${Object.keys(EXPORT_FORMATS).join(", ")}`,
    );
  }
  const records = await readRunRecords(opts.files);
  opts.logger.info(JSON.stringify(EXPORT_FORMATS[opts.format as ExportFormat](records), null, 2));
}

/** `pte-farm export …`: argv in, exit code out. */
export async function exportCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values, positionals } = usageErrors("export", () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help) {
    logger.info(EXPORT_USAGE);
    return EXIT.ok;
  }
  await exportCommand({ format: values.format ?? "(missing)", files: positionals, logger });
  return EXIT.ok;
}
