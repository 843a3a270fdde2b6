/**
 * `pte-farm canaries`: the matrix's canaries on its toolchains (canaries/run.ts). Exit 0 when every
 * canary has a verdict (reproduces, or possibly fixed upstream with a proposed catalogue change),
 * 1 when one fails differently (a new failure), 3 when one could not run (infrastructure).
 */
import { parseArgs } from "node:util";
import { runCanaries } from "../canaries/run.ts";
import { EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultCacheDir, defaultPython, displayPath } from "../core/paths.ts";
import { usageErrors } from "./args.ts";
import { locksByToolchain } from "./run.ts";

export const CANARIES_USAGE = `pte-farm canaries [--toolchains A,B] [--out DIR] [--lock FILE]... [--matrix FILE] [--known-issues FILE]
  runs each canary of the matrix (a cell expected to fail with a known issue) on each toolchain
  (default: all; a channel is resolved from the package index unless --lock gives its lock) and
  says, per canary and toolchain: reproduces; no longer reproduces — possibly fixed upstream (with
  the proposed applies_to change to matrix/known-issues.yml as a diff); or fails differently.
  Writes canaries.json and canaries.md into the run's output folder.`;

export async function canariesCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("canaries", () =>
    parseArgs({
      args: argv,
      options: {
        toolchains: { type: "string" },
        out: { type: "string" },
        lock: { type: "string", multiple: true },
        matrix: { type: "string" },
        "known-issues": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(CANARIES_USAGE);
    return EXIT.ok;
  }
  const report = await runCanaries({
    matrix: values.matrix ?? DEFAULT_MATRIX,
    ...(values.toolchains === undefined
      ? {}
      : {
          toolchains: values.toolchains
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean),
        }),
    out: values.out ?? "",
    python: defaultPython(),
    cacheDir: defaultCacheDir(),
    ...(values["known-issues"] === undefined ? {} : { knownIssues: values["known-issues"] }),
    ...(values.lock === undefined ? {} : { locks: await locksByToolchain(values.lock) }),
    logger,
  });
  for (const r of report.results) logger.info(`${r.state.padEnd(22)} ${r.cell}: ${r.summary}`);
  for (const p of report.proposals) logger.info(`\nproposed applies_to for ${p.knownIssue}:\n${p.diff}`);
  logger.info(`canaries: ${displayPath(report.outDir)}/canaries.md`);
  if (report.results.some((r) => r.state === "fails-differently")) return EXIT.failed;
  if (report.results.some((r) => r.state === "infrastructure")) return EXIT.infra;
  return EXIT.ok;
}
