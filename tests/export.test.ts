import { describe, expect, it } from "vitest";
import { toBencherBmf } from "../actions/src/records/formats/bencher.ts";
import { toGabBigger } from "../actions/src/records/formats/gab.ts";
import { toPytorchV3 } from "../actions/src/records/formats/pytorch-v3.ts";
import { sampleRecord } from "./helpers/record.ts";

/**
 * The JSON type of every key path in a value: what "same keys, same types, same structure" means.
 * `extra_info` is free-form in the v3 schema (each producer puts its own keys there): only "object".
 */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === "extra_info" ? "object" : shape(v)]),
    );
  }
  return value === null ? "null" : typeof value;
}

/** Every key path of `example` exists in `ours` with the same JSON type (ours may add keys). */
function expectShapeCovers(ours: unknown, example: unknown): void {
  const o = shape(ours);
  const e = shape(example);
  expect(o).toMatchObject(e as object);
}

// pytorch/test-infra, .github/scripts/benchmark-results-dir-for-testing/v3/do_not_overwrite_runners_info.json
// (commit f2fd3b3b): an ExecuTorch iOS benchmark record as uploaded to the OSS benchmark database, schema v3.
const PYTORCH_V3_EXAMPLE = {
  benchmark: {
    name: "ExecuTorch",
    mode: "inference",
    extra_info: {
      app_type: "IOS_APP",
      benchmark_config:
        '{"model": "edsr", "config": "xnnpack_q8", "device_name": "apple_iphone_15", "device_arn": "arn:aws:devicefarm:us-west-2:308535385114:devicepool:02a2cf0f-6d9b-45ee-ba1a-a086587469e6/3b5acd2e-92e2-4778-b651-7726bafe129d"}',
    },
  },
  model: { name: "edsr", type: "OSS model", backend: "xnnpack_q8" },
  metric: {
    name: "peak_inference_mem_usage(mb)",
    benchmark_values: [333.2014794921875],
    target_value: 0,
    extra_info: { method: "forward" },
  },
  runners: [{ name: "Apple iPhone 15", type: "iOS 18.0", avail_mem_in_gb: 0, total_mem_in_gb: 0 }],
};

// benchmark-action/github-action-benchmark, test/data/extract/customBiggerIsBetter_output.json (commit e7d61db8):
// the tool's own fixture for `tool: customBiggerIsBetter`.
const GAB_EXAMPLE = [
  { name: "My Custom Bigger Is Better Benchmark - Throughput", unit: "req/s", value: 70 },
  {
    name: "My Custom Bigger Is Better Benchmark - Free Memory",
    unit: "Megabytes",
    value: 150,
    range: "3",
    extra: "Optional Value #1: 25\nHelpful Num #2: 100\nAnything Else!",
  },
];

// https://bencher.dev/docs/reference/bencher-metric-format: "Example Bencher Metric Format (BMF) JSON".
const BMF_EXAMPLE = {
  benchmark_name: {
    latency: { value: 88.0, lower_value: 87.42, upper_value: 88.88 },
    throughput: { value: 5.55, lower_value: 3.14, upper_value: 6.3 },
  },
  "/bin/sh -c ./my_build_script.sh": { "build-time": { value: 87.0 } },
  my_binary: { "file-size": { value: 42.0 } },
};

describe("PyTorch OSS benchmark database v3", () => {
  const out = toPytorchV3([sampleRecord()]);

  it("has the keys and types of the published ExecuTorch v3 record", () => {
    for (const rec of out) expectShapeCovers(rec, PYTORCH_V3_EXAMPLE);
    expect(Object.keys(out[0] as object).sort()).toEqual(["benchmark", "metric", "model", "runners"]);
  });

  it("writes one record per metric, with the clean samples as benchmark_values and the device as runner", () => {
    expect(out.map((r) => r.metric.name)).toEqual([
      "decode_tokens_per_sec",
      "prefill_tokens_per_sec",
      "first_token_ms",
      "model_load_ms",
      "peak_rss_mb",
      "pte_bytes",
    ]);
    const decode = out[0];
    expect(decode?.metric.benchmark_values).toEqual([100, 104, 102]); // the throttled 60 is left out
    expect(decode?.metric.extra_info).toMatchObject({ unit: "tok/s", flagged_reps_left_out: 1 });
    expect(decode?.model).toMatchObject({ name: "tiny-llama", backend: "portable", type: "OSS model" });
    expect(decode?.benchmark).toMatchObject({ name: "pte-farm", mode: "inference", dtype: "fp32" });
    expect(decode?.runners[0]).toMatchObject({ name: "pi5", cpu_info: "Cortex-A76", total_mem_in_gb: 7.9 });
  });
});

describe("github-action-benchmark customBiggerIsBetter", () => {
  const out = toGabBigger([sampleRecord()]);

  it("has the keys and types of the tool's own customBiggerIsBetter fixture", () => {
    expect(Array.isArray(out)).toBe(true);
    for (const entry of out) {
      expectShapeCovers(entry, GAB_EXAMPLE[1]);
      expect(Object.keys(entry).every((k) => ["name", "unit", "value", "range", "extra"].includes(k))).toBe(
        true,
      );
    }
  });

  it("exports only the metrics where bigger is better, as the median of clean reps", () => {
    expect(out.map((e) => [e.name, e.unit, e.value, e.range])).toEqual([
      ["tiny-llama/fp32/portable/pi5@stable - decode_tokens_per_sec", "tok/s", 102, "± 2"],
      ["tiny-llama/fp32/portable/pi5@stable - prefill_tokens_per_sec", "tok/s", 402.5, "± 6"],
    ]);
    expect(out[0]?.extra).toContain("median of 3 reps, 1 throttled/hot reps left out");
  });
});

describe("Bencher Metric Format", () => {
  const out = toBencherBmf([sampleRecord(), sampleRecord({ role: "base" })]);

  it("has the structure of bencher.dev's published BMF example", () => {
    for (const measures of Object.values(out)) {
      for (const m of Object.values(measures)) expectShapeCovers(m, BMF_EXAMPLE.benchmark_name.latency);
    }
    expect(Object.keys(out)).toEqual([
      "tiny-llama/fp32/portable/pi5@stable",
      "tiny-llama/fp32/portable/pi5@stable (base)",
    ]);
  });

  it("names measures by kebab-case slug, bounded by the clean samples", () => {
    expect(out["tiny-llama/fp32/portable/pi5@stable"]?.["decode-tokens-per-sec"]).toEqual({
      value: 102,
      lower_value: 100,
      upper_value: 104,
    });
  });
});
