/**
 * `node scripts/nightly-candidates.ts --store STORE --records DIR --devices FILE [--config FILE]`
 * (farm-nightly.yml's history job): append tonight's records, find candidate regressions, and set
 * the `confirm` output. See actions/src/cli/workflow.ts.
 */
import { parseArgs } from "node:util";
import { nightlyCandidatesCommand } from "../actions/src/cli/workflow.ts";
import { consoleLogger } from "../actions/src/core/logger.ts";
import { runScript } from "./run-script.ts";

await runScript(async () => {
  const { values } = parseArgs({
    options: {
      store: { type: "string" },
      records: { type: "string" },
      devices: { type: "string" },
      config: { type: "string" },
    },
  });
  const { store, records, devices, config } = values;
  if (store === undefined || records === undefined || devices === undefined) {
    throw new TypeError(
      "usage: nightly-candidates.ts --store STORE --records DIR --devices FILE [--config FILE]",
    );
  }
  await nightlyCandidatesCommand({
    store,
    records,
    devices,
    ...(config === undefined ? {} : { config }),
    logger: consoleLogger,
    env: process.env,
  });
});
