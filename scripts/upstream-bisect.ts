/**
 * `node scripts/upstream-bisect.ts --records DIR --good TOOLCHAIN|LOCK --bad LOCK --out DIR`
 * (farm-upstream.yml): bisects every cell of the channel's run that failed (a gate or a stage,
 * not infrastructure), one `pte-farm bisect` per cell into `<out>/<n>/`. A cell that also fails
 * on the good toolchain is not new and is left alone (bisect refuses it, exit 2, and says so).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { recordsUnder } from "../actions/src/records/read.ts";
import { runScript } from "./run-script.ts";

await runScript(async () => {
  const { values } = parseArgs({
    options: {
      records: { type: "string" },
      good: { type: "string" },
      bad: { type: "string" },
      out: { type: "string" },
    },
  });
  const { records, good, bad, out } = values;
  if (records === undefined || good === undefined || bad === undefined || out === undefined) {
    throw new TypeError("usage: upstream-bisect.ts --records DIR --good TOOLCHAIN|LOCK --bad LOCK --out DIR");
  }
  const failed = (await recordsUnder(records)).filter((r) => r.status === "fail");
  await mkdir(out, { recursive: true });
  process.stdout.write(`${failed.length} failed cell(s) on ${bad}\n`);
  for (const [i, r] of failed.entries()) {
    const dir = path.join(out, String(i + 1));
    const run = await execa(
      "node",
      [
        path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"),
        "bisect",
        "--cell",
        r.cell.id,
        "--good",
        good,
        "--bad",
        bad,
        "--out",
        dir,
      ],
      { reject: false, stdout: "inherit", stderr: "inherit" },
    );
    process.stdout.write(
      `bisect ${r.cell.id}: exit ${run.exitCode}${run.exitCode === 2 ? " (not new: it fails on the good toolchain too, or the endpoints are not a pair)" : ""}\n`,
    );
  }
});
