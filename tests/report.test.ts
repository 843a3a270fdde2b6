import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../actions/src/records/build.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { formatBytes, median, renderSummary } from "../reports/summary.ts";

const metric = (samples: number[]) => ({ unit: "x", better: "higher" as const, samples });

function record(over: Partial<RunRecord>): RunRecord {
  return {
    schema: "pte-farm/run@1",
    cell: {
      id: "tiny-llama/fp32/xnnpack/host-x86_64@stable",
      model: "tiny-llama",
      recipe: "fp32",
      backend: "xnnpack",
      device: "host-x86_64",
      toolchain: "stable",
    },
    session: "s1",
    role: "head",
    git_sha: null,
    started_at: "2026-11-23T04:00:00Z",
    finished_at: "2026-11-23T04:01:00Z",
    status: "pass",
    toolchain: { name: "stable", build: null, device: null },
    device: {
      runner: "host",
      board: "host-cpu",
      hostname: "h",
      os: "Debian",
      kernel: "Linux 6",
      arch: "x64",
      cpu: "Xeon",
      cpus: 2,
      memory_mb: 1024,
    },
    telemetry: { samples: [] },
    metrics: {
      decode_tokens_per_sec: metric([10, 30, 20]),
      prefill_tokens_per_sec: metric([100, 200]),
      first_token_ms: metric([5]),
      pte_bytes: metric([1_782_579]),
    },
    tokens: [],
    gate: {
      verdict: "pass",
      policy: { reference: "fp32", fp32: "gate" },
      first_divergence: null,
      fp32_agreement: { matching_prefix: 48, total: 48 },
    },
    stages: ["reference", "export", "quantize", "lower"].map((stage) => ({
      stage,
      outcome: "ok" as const,
      cache: "hit" as const,
      wall_s: 0,
      dir: "/c",
      log: null,
    })),
    failure: null,
    ...over,
  };
}

const failedLower = record({
  cell: {
    id: "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable",
    model: "tiny-llama",
    recipe: "8da4w-g32",
    backend: "xnnpack",
    device: "host-x86_64",
    toolchain: "stable",
  },
  status: "fail",
  metrics: {},
  gate: null,
  stages: [
    {
      stage: "lower",
      outcome: "stage-failure",
      cache: "miss",
      wall_s: 3,
      dir: "/o/b",
      log: "/o/b/stage.log",
    },
  ],
  failure: {
    stage: "lower",
    outcome: "stage-failure",
    message: "stage lower failed in executorch 1.4.1: RuntimeError: Missing out variants",
    known_issue: "torchao-quantized-embedding-no-out-variants",
    triage:
      "known issue torchao-quantized-embedding-no-out-variants: ... — Write the INT8 embedding with plain aten ops.",
    reproduce: "PYTHONPATH=stages python -m pte_stages.lower --spec /o/b/spec.json --out /tmp/pte-farm-repro",
  },
});

describe("summary.md", () => {
  it("lists excluded cells as skipped with their reason and known issue", () => {
    const md = renderSummary([record({})], {
      session: "s",
      gitSha: null,
      skipped: [
        { cell: "a/b/c/m1@stable", reason: "not needed on macOS", known_issue: "xnnpack-aarch64-fused-int4" },
        { cell: "a/b/c/pi5@stable", reason: "does not fit", known_issue: null },
      ],
    });
    expect(md).toContain(
      "### Skipped\n\n- a/b/c/m1@stable — skipped: not needed on macOS [known issue xnnpack-aarch64-fused-int4]\n" +
        "- a/b/c/pi5@stable — skipped: does not fit\n",
    );
  });

  it("renders one row per cell with medians, sizes and cache hits, then a note per failure", () => {
    const md = renderSummary([record({}), failedLower], { session: "s1", gitSha: "0123456789abcdef" });
    expect(md).toContain("session `s1` · git `0123456789ab` · 1/2 cells passed");
    expect(md).toContain(
      "| tiny-llama/fp32/xnnpack/host-x86_64@stable | pass | pass (bit-exact fp32) | 20.00 | 150.0 | 5.0 | 1.7 MiB | — | 4/4 |",
    );
    expect(md).toContain(
      "| tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable | fail | — | — | — | — | — | — | 0/4 |",
    );
    expect(md).toContain("- **tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable** — fail");
    expect(md).toContain(
      "  - known issue torchao-quantized-embedding-no-out-variants: ... — Write the INT8 embedding",
    );
    expect(md).toContain(
      "  - reproduce: `PYTHONPATH=stages python -m pte_stages.lower --spec /o/b/spec.json",
    );
    expect(md).toContain("  - log: `/o/b/stage.log`");
  });

  it("explains a failed gate by its first divergence", () => {
    const md = renderSummary(
      [
        record({
          status: "fail",
          gate: {
            verdict: "fail",
            policy: { reference: "fp32", fp32: "gate" },
            first_divergence: {
              reference: "fp32",
              prompt_index: 0,
              position: 3,
              expected_id: 12,
              expected_text: " Paris",
              actual_id: 20,
              actual_text: " Rome",
            },
            fp32_agreement: { matching_prefix: 3, total: 24 },
          },
        }),
      ],
      { session: "s", gitSha: null },
    );
    expect(md).toContain("| fail | fail at p0:t3 (fp32 3/24) |");
    expect(md).toContain(
      '  - gate: prompt 0, token 3: expected 12 " Paris", got 20 " Rome" (vs fp32 reference)',
    );
  });

  it("computes medians and binary sizes", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(536_576)).toBe("524.0 KiB");
  });
});

describe("exit code for many cells", () => {
  it("is 0 when all pass, 1 on a failed gate or stage, 3 on infrastructure or timeout, 2 on bad input first", () => {
    expect(exitCodeFor([record({})])).toBe(0);
    expect(exitCodeFor([record({}), failedLower])).toBe(1);
    expect(exitCodeFor([failedLower, record({ status: "timeout" })])).toBe(3);
    const config = record({
      status: "fail",
      failure: { ...(failedLower.failure as NonNullable<RunRecord["failure"]>), outcome: "config-error" },
    });
    expect(exitCodeFor([record({ status: "infra-error" }), config])).toBe(2);
  });
});
