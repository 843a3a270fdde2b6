/**
 * How the farm's device facts reach the measurement: cool-down into the execute spec, bandwidth into
 * the record; and which timer measured decode (issue 16) from the execute data into the record.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { cooldownFor } from "../actions/src/pipeline/stage-specs.ts";
import { buildRunRecord } from "../actions/src/records/build.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { type ExecuteData, executeData } from "../actions/src/schemas/stage.ts";
import { cellSet } from "../matrix/cells.ts";
import { loadFarm } from "../matrix/load.ts";
import { sampleRecord } from "./helpers/record.ts";

async function cell(id: string) {
  const farm = await loadFarm(DEFAULT_MATRIX);
  const found = cellSet(farm, "nightly").cells.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no cell ${id} in the nightly set`);
  return found;
}

describe("device facts from farm.yml", () => {
  it("asks execute to cool a Pi 5 below 50 °C for at most 300 s, and a hosted runner not at all", async () => {
    expect(cooldownFor((await cell("tiny-llama/fp32/portable/pi5@stable")).device)).toEqual({
      cooldown: { below_c: 50, max_wait_s: 300 },
    });
    expect(cooldownFor((await cell("tiny-llama/fp32/portable/host-x86_64@stable")).device)).toEqual({});
  });

  it("gives a Pi 5 record its roofline from the matrix's 17.1 GB/s and the .pte size", async () => {
    const pi5 = await cell("tiny-llama/fp32/portable/pi5@stable");
    const r = sampleRecord();
    const record = buildRunRecord({
      cell: pi5,
      session: "s",
      role: "head",
      gitSha: null,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      steps: [],
      device: r.device,
      telemetry: [],
      buildToolchain: null,
      deviceToolchain: null,
      reference: null,
      execute: { prompts: [], reps: 4, warmup: 1, metrics: r.metrics },
      gate: null,
      failure: null,
    });
    // 17.1e9 B/s / 1,782,579 B per token = 9592.84 tok/s bound; median of the unflagged 100, 104, 102 is 102.
    expect(record.roofline).toEqual({
      bytes_per_token: 1_782_579,
      bandwidth_gbs: 17.1,
      bound_tokens_per_sec: 9592.84,
      fraction: 0.0106,
    });
  });

  it("carries the execute stage's decode timer and its fallback reason into the run record", async () => {
    const host = await cell("tiny-llama/fp32/portable/host-x86_64@stable");
    const r = sampleRecord();
    const recordOf = (execute: ExecuteData) =>
      buildRunRecord({
        cell: host,
        session: "s",
        role: "head",
        gitSha: null,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        steps: [],
        device: r.device,
        telemetry: [],
        buildToolchain: null,
        deviceToolchain: null,
        reference: null,
        execute,
        gate: null,
        failure: null,
      });
    const data = (extra: object) =>
      parseJson(
        executeData,
        JSON.stringify({ prompts: [], reps: 4, warmup: 1, metrics: r.metrics, ...extra }),
        "x",
      );
    const runner = recordOf(data({ timer: "text-llm-runner" }));
    expect(runner.timer).toEqual({ name: "text-llm-runner" });
    const loop = recordOf(data({ timer: "python-loop", timer_fallback: "no tokenizer.json" }));
    expect(parseJson(runRecord, JSON.stringify(loop), "run.json").timer).toEqual({
      name: "python-loop",
      fallback: "no tokenizer.json",
    });
    expect(recordOf(data({})).timer).toBeUndefined(); // an execute from before issue 16
    expect(() => data({ timer: "stopwatch" })).toThrow(/timer/);
  });
});
