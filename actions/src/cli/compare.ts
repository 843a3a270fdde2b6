/**
 * `pte-farm compare`: head vs base run records (compare/files.ts) → per-metric verdicts with CIs,
 * printed as JSON or markdown. Bad input is a ConfigurationError naming the file, the JSON path
 * and, for samples, the metric and rep; main.ts turns it into exit 2.
 */
import { parseArgs } from "node:util";
import { renderComparison } from "../../../reports/compare.ts";
import { type CompareFilesOptions, compareFiles } from "../compare/files.ts";
import type { Comparison } from "../compare/verdicts.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { usageErrors } from "./args.ts";

export const COMPARE_USAGE = `pte-farm compare --base A.json --head B.json [options]
  --format json|markdown  (default json) per metric {verdict, ratio, ci, p_value, more_samples} and
                          an overall verdict; exit 1 on a regression, 0 otherwise (inconclusive included)
  --across-toolchains     allow base and head from different toolchains (never different devices)
  --config FILE           minimum effects and between-session spread (default: matrix/compare.yml)`;

interface CompareOptions extends CompareFilesOptions {
  format: "json" | "markdown";
  logger: Logger;
}

/** Prints the comparison; returns it so the caller can choose the exit code. */
async function compareCommand(opts: CompareOptions): Promise<Comparison> {
  const result = await compareFiles(opts);
  opts.logger.info(opts.format === "json" ? JSON.stringify(result, null, 2) : renderComparison(result));
  return result;
}

/** `pte-farm compare …`: exit 1 on a regression, 0 otherwise (inconclusive included). */
export async function compareCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("compare", () =>
    parseArgs({
      args: argv,
      options: {
        base: { type: "string" },
        head: { type: "string" },
        format: { type: "string" },
        "across-toolchains": { type: "boolean" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(COMPARE_USAGE);
    return EXIT.ok;
  }
  if (values.base === undefined || values.head === undefined) {
    throw new ConfigurationError("compare needs --base A.json and --head B.json (run records)");
  }
  const format = values.format ?? "json";
  if (format !== "json" && format !== "markdown") {
    throw new ConfigurationError(`--format ${format}: expected one of json, markdown`);
  }
  const result = await compareCommand({
    base: values.base,
    head: values.head,
    format,
    acrossToolchains: values["across-toolchains"] ?? false,
    ...(values.config === undefined ? {} : { config: values.config }),
    logger,
  });
  if (result.verdict === "inconclusive") {
    logger.warn("inconclusive: see more_samples for the reps per side that would decide it");
  }
  return result.verdict === "regression" ? EXIT.failed : EXIT.ok;
}
