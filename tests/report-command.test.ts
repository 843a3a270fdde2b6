import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPORT_SCHEMA, reportCommand, reportExitCode } from "../actions/src/cli/report.ts";
import { ConfigurationError, EXIT } from "../actions/src/core/errors.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { summaryCounts } from "../reports/cell-report.ts";
import { pairedSession } from "../scripts/synthetic-sessions.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const CELL = "tiny-llama/fp32/portable/pi5@stable";

function onPi(r: RunRecord, id = CELL): RunRecord {
  r.cell = { ...r.cell, id, device: "pi5" };
  r.device.board = "raspberry-pi-5-8gb";
  return r;
}

/** A `pte-farm run --base-out` folder: run.json and run.base.json per cell, and stage JSON beside them. */
async function runFolder(cells: { id: string; drop: number; seed: number }[]): Promise<string> {
  const dir = await tempDir();
  for (const c of cells) {
    const s = pairedSession(seededRng(c.seed), c.drop, 16, 600);
    const base = onPi(record(s.base, { session: "s1" }), c.id);
    base.role = "base";
    const head = onPi(record(s.head, { session: "s1" }), c.id);
    const cellDir = path.join(dir, "cells", ...c.id.split("/"));
    await mkdir(path.join(cellDir, "execute"), { recursive: true });
    await writeFile(path.join(cellDir, "run.json"), JSON.stringify(head));
    await writeFile(path.join(cellDir, "run.base.json"), JSON.stringify(base));
    await writeFile(path.join(cellDir, "execute", "result.json"), JSON.stringify({ not: "a run record" }));
  }
  return dir;
}

describe("pte-farm report", () => {
  it("pairs run.json with run.base.json in a run folder and prints the job-summary table", async () => {
    const dir = await runFolder([
      { id: CELL, drop: 0.12, seed: 4 },
      { id: "tiny-llama/8da4w-g32/xnnpack/pi5@stable", drop: 0, seed: 5 },
    ]);
    const logger = new RecordingLogger();
    const { counts, output } = await reportCommand({ records: [dir], format: "markdown", logger });
    expect(counts.cells).toBe(2);
    expect(counts.regressions).toBe(1);
    expect(output).toContain("### pte-farm results");
    expect(output).toMatch(
      /\| `tiny-llama\/fp32\/portable\/pi5@stable` \| ✅ 48\/48 bit-exact \| [\d,]+ → [\d,]+ \| −\d/,
    );
    expect(logger.text()).toBe(output);
    expect(reportExitCode(counts)).toBe(EXIT.failed);
  });

  it("prints JSON with the summary counts and each cell's outcome and comparison", async () => {
    const dir = await runFolder([{ id: CELL, drop: 0.12, seed: 4 }]);
    const { output } = await reportCommand({ records: [dir], format: "json", logger: new RecordingLogger() });
    const json = JSON.parse(output);
    expect(json.schema).toBe(REPORT_SCHEMA);
    expect(json.summary).toMatchObject({ cells: 1, regressions: 1, gatesPassed: 1 });
    expect(json.cells[0]).toMatchObject({ cell: CELL, status: "pass", outcome: "regression", gate: "pass" });
    expect(json.cells[0].comparison.metrics.decode_tokens_per_sec.verdict).toBe("regression");
  });

  it("takes bases from --base, and a PR-comment style that starts with the marker", async () => {
    const heads = await tempDir();
    const bases = await tempDir();
    const s = pairedSession(seededRng(6), 0.12, 16, 600);
    const base = onPi(record(s.base, { session: "s1" }));
    await writeFile(path.join(heads, "run.json"), JSON.stringify(onPi(record(s.head, { session: "s1" }))));
    await writeFile(path.join(bases, "run.json"), JSON.stringify(base));
    const { output, counts } = await reportCommand({
      records: [heads],
      base: [bases],
      format: "markdown",
      style: "pr-comment",
      logger: new RecordingLogger(),
    });
    expect(counts.regressions).toBe(1);
    expect(output.startsWith("<!-- pte-farm:bench -->\n")).toBe(true);
  });

  it("draws the regressed cell's nightly trend from a history store", async () => {
    const dir = await runFolder([{ id: CELL, drop: 0.12, seed: 4 }]);
    const store = await tempDir();
    const rng = seededRng(7);
    const nightly = Array.from({ length: 25 }, (_, i) => {
      const r = onPi(
        record(pairedSession(rng, 0, 8, 600).base, {
          session: `n${i}`,
          startedAt: new Date(Date.UTC(2026, 10, 1 + i, 3)).toISOString(),
        }),
      );
      r.role = "nightly";
      return r;
    });
    await new LocalFolderStore(store).append(nightly);
    const common = { records: [dir], history: `dir:${store}`, logger: new RecordingLogger() };
    const json = JSON.parse((await reportCommand({ ...common, format: "json" })).output);
    expect(json.cells[0].trend).toHaveLength(20);
    expect(json.cells[0].trend[19].label).toBe("11-25");
    const md = (await reportCommand({ ...common, format: "markdown", style: "pr-comment" })).output;
    expect(md).toContain("```mermaid");
    expect(md).toContain("last 20 nightlies on main, then this PR");
  });

  it("shows the end of a failed stage's log when the log is on this machine", async () => {
    const dir = await tempDir();
    const log = path.join(dir, "lower.log");
    await writeFile(
      log,
      `${"noise\n".repeat(100)}RuntimeError: Missing out variants: {'torchao::quantize_affine'}\n`,
    );
    const head = onPi(record([600, 601]));
    head.status = "fail";
    head.gate = null;
    head.stages = [{ stage: "lower", outcome: "stage-failure", cache: "off", wall_s: 1, dir, log }];
    head.failure = {
      stage: "lower",
      outcome: "stage-failure",
      message: "stage lower failed",
      known_issue: null,
      triage: "new failure in stage lower",
      reproduce: "x",
    };
    await writeFile(path.join(dir, "run.json"), JSON.stringify(head));
    const { output } = await reportCommand({
      records: [dir],
      format: "markdown",
      logger: new RecordingLogger(),
    });
    expect(output).toContain("Last 40 lines of the log (61 earlier lines omitted):");
    expect(output).toContain("RuntimeError: Missing out variants: {'torchao::quantize_affine'}\n```");
  });

  it("refuses two head records of one cell, naming both files", async () => {
    const dir = await tempDir();
    for (const name of ["a.json", "b.json"])
      await writeFile(path.join(dir, name), JSON.stringify(onPi(record([1, 2]))));
    const files = ["a.json", "b.json"].map((n) => path.join(dir, n));
    await expect(
      reportCommand({ records: files, format: "json", logger: new RecordingLogger() }),
    ).rejects.toThrow(
      /two head records for cell tiny-llama\/fp32\/portable\/pi5@stable: .*a\.json and .*b\.json/,
    );
  });

  it("refuses to compare a base and a head from different devices", async () => {
    const dir = await tempDir();
    const base = record([600, 601, 602]);
    base.role = "base";
    await writeFile(path.join(dir, "run.base.json"), JSON.stringify(base));
    await writeFile(path.join(dir, "run.json"), JSON.stringify(onPi(record([600, 601, 602]), base.cell.id)));
    await expect(
      reportCommand({ records: [dir], format: "json", logger: new RecordingLogger() }),
    ).rejects.toThrow(ConfigurationError);
  });

  it("exits 3 for an infrastructure error before 1 for a failure, and 0 when only inconclusive", () => {
    const ok = onPi(record([1, 2]));
    const infra = { ...ok, status: "infra-error" as const };
    const failed = { ...ok, status: "fail" as const };
    expect(reportExitCode(summaryCounts([{ head: infra }, { head: failed }]))).toBe(EXIT.infra);
    expect(reportExitCode(summaryCounts([{ head: failed }]))).toBe(EXIT.failed);
    expect(reportExitCode(summaryCounts([{ head: ok }]))).toBe(EXIT.ok);
  });
});
