/**
 * `node scripts/find-base.ts --history DIR --cell ID --out FILE` (farm-device.yml): the cell's
 * newest passing nightly record, as the base of a pull request's compare. See
 * actions/src/cli/workflow.ts.
 */
import { parseArgs } from "node:util";
import { findBaseCommand } from "../actions/src/cli/workflow.ts";
import { consoleLogger } from "../actions/src/core/logger.ts";
import { runScript } from "./run-script.ts";

await runScript(async () => {
  const { values } = parseArgs({
    options: { history: { type: "string" }, cell: { type: "string" }, out: { type: "string" } },
  });
  const { history, cell, out } = values;
  if (history === undefined || cell === undefined || out === undefined) {
    throw new TypeError("usage: find-base.ts --history DIR --cell ID --out FILE");
  }
  await findBaseCommand({ history, cell, out, logger: consoleLogger, env: process.env });
});
