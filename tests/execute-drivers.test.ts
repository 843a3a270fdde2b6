/**
 * What every execute driver shares: the matrix device picks it, its result may leave out a metric
 * only by saying why, and the run record carries what the driver could and could not measure —
 * readable by pte-farm/run@1 readers that predate the field.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { arr, obj, parse, parseJson, str, ValidationError } from "../actions/src/core/validate.ts";
import { driverFor, EXECUTE_DRIVERS } from "../actions/src/drivers/registry.ts";
import { MetricCollector } from "../actions/src/drivers/rep-metrics.ts";
import { buildRunRecord, cellStatus } from "../actions/src/records/build.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { executeData } from "../actions/src/schemas/stage.ts";
import { allCells } from "../matrix/cells.ts";
import { loadFarm } from "../matrix/load.ts";
import { DRIVERS } from "../matrix/schema.ts";
import { sampleRecord } from "./helpers/record.ts";

const fvpData = {
  prompts: [],
  reps: 1,
  warmup: 0,
  metrics: {
    pte_bytes: { unit: "B", better: "lower", samples: [35648] },
    npu_active_cycles: { unit: "cycles", better: "lower", samples: [247553] },
  },
  driver: {
    name: "fvp",
    unavailable: {
      decode_tokens_per_sec: "no tokens",
      prefill_tokens_per_sec: "no tokens",
      first_token_ms: "no tokens",
      model_load_ms: "simulated",
      peak_rss_mb: "bare metal",
    },
    notes: {},
    output_check: "bundled-io",
  },
};

describe("execute drivers", () => {
  it("has a driver for every name the matrix schema admits, and gives each device of the farm its own", async () => {
    expect(Object.keys(EXECUTE_DRIVERS).sort()).toEqual([...DRIVERS].sort());
    const farm = await loadFarm(DEFAULT_MATRIX);
    const byDevice = Object.fromEntries(allCells(farm).map((c) => [c.device.name, driverFor(c).name]));
    expect(byDevice).toEqual({
      "host-x86_64": "python-runtime",
      "host-arm64": "python-runtime",
      pi5: "llama-main",
      "pi5-emu": "python-runtime",
      m1: "llama-main",
      "corstone-300-u55": "fvp",
      "corstone-320-u85": "fvp",
    });
  });

  it("accepts an execute result without a required metric only when its driver says why", () => {
    expect(parse(executeData, fvpData, "data").driver?.unavailable.peak_rss_mb).toBe("bare metal");
    const { peak_rss_mb: _, ...unexplained } = fvpData.driver.unavailable;
    expect(() =>
      parse(
        executeData,
        { ...fvpData, driver: { ...fvpData.driver, unavailable: unexplained } },
        "result.json: data",
      ),
    ).toThrow(
      "result.json: data: metrics.peak_rss_mb: required metric is missing (a driver that cannot measure it names it in driver.unavailable)",
    );
  });

  it("puts the driver block in the run record, and a reader that predates it still reads the record", () => {
    const r = sampleRecord();
    const cell = {
      id: r.cell.id,
      ref: r.cell,
      model: { twin: null },
      device: { memoryBandwidthGbs: null },
      toolchain: { name: "stable" },
    };
    const record = buildRunRecord({
      // buildRunRecord reads only these fields of the cell.
      cell: cell as unknown as Parameters<typeof buildRunRecord>[0]["cell"],
      session: "s",
      role: "head",
      gitSha: null,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      steps: [],
      device: r.device,
      telemetry: [],
      buildToolchain: null,
      deviceToolchain: { executorch: null, runner: "/opt/arm_executor_runner" },
      reference: null,
      execute: parse(executeData, fvpData, "data"),
      gate: null,
      failure: null,
    });
    expect(record).toMatchObject({
      status: "pass",
      gate: null,
      driver: { name: "fvp", output_check: "bundled-io" },
    });
    expect(record.metrics).not.toHaveProperty("peak_rss_mb");
    // A pte-farm/run@1 reader from before issue 6: open objects drop the field it does not know.
    const before = obj({ schema: str, status: str, metrics: obj({}), tokens: arr(obj({})) });
    expect(parseJson(before, JSON.stringify(record), "run.json")).toEqual({
      schema: "pte-farm/run@1",
      status: "pass",
      metrics: {},
      tokens: [],
    });
  });

  it("still reads a record written before drivers existed", async () => {
    const file = path.join(REPO_ROOT, "tests", "fixtures", "run-records", "host-fp32-portable.json");
    expect(parseJson(runRecord, await readFile(file, "utf8"), file).driver).toBeUndefined();
  });

  it("passes a cell without tokens only when the device checked its outputs itself", () => {
    expect(cellStatus([], null, null, "bundled-io")).toBe("pass");
    expect(cellStatus([], null, null)).toBe("fail");
  });

  it("keeps what reps measured, names what none could, and notes what some could not", () => {
    const c = new MetricCollector();
    c.add("decode_tokens_per_sec", "tok/s", "higher", { value: 41.25 }, []);
    c.add("decode_tokens_per_sec", "tok/s", "higher", { value: 40.5 }, ["hot"]);
    c.add("first_token_ms", "ms", "lower", { value: 3 });
    c.add("first_token_ms", "ms", "lower", { missing: "0 ms" });
    c.add("model_load_ms", "ms", "lower", { missing: "not timed" });
    c.note("model_load_ms", "per process");
    expect(c.finish()).toEqual({
      metrics: {
        decode_tokens_per_sec: {
          unit: "tok/s",
          better: "higher",
          samples: [41.25, 40.5],
          sample_flags: [[], ["hot"]],
        },
        first_token_ms: { unit: "ms", better: "lower", samples: [3], sample_flags: [[]] },
      },
      unavailable: { model_load_ms: "not timed" },
      notes: { first_token_ms: "1 of 2 reps could not be measured (0 ms)" },
    });
  });

  it("rejects an execute result whose driver block is malformed", () => {
    expect(() => parse(executeData, { ...fvpData, driver: { name: "fvp", notes: {} } }, "data")).toThrow(
      ValidationError,
    );
  });
});
