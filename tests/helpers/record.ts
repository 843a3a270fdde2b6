/** A valid `pte-farm/run@1` record for tests of the code that reads records (history, export, roofline). */
import type { RunRecord } from "../../actions/src/schemas/run-record.ts";

export function sampleRecord(over: Partial<RunRecord> = {}): RunRecord {
  const metric = (unit: string, better: "higher" | "lower", samples: number[]) => ({ unit, better, samples });
  return {
    schema: "pte-farm/run@1",
    cell: {
      id: "tiny-llama/fp32/portable/pi5@stable",
      model: "tiny-llama",
      recipe: "fp32",
      backend: "portable",
      device: "pi5",
      toolchain: "stable",
    },
    session: "2026-11-23T05-00-00Z-abc123",
    role: "head",
    git_sha: "0123456789abcdef0123456789abcdef01234567",
    started_at: "2026-11-23T05:00:00.000Z",
    finished_at: "2026-11-23T05:01:00.000Z",
    status: "pass",
    toolchain: {
      name: "stable",
      build: { python: "3.11.7", torch: "2.13.0+cpu", executorch: "1.4.1" },
      device: { python: "3.11.7", torch: "2.13.0+cpu", executorch: "1.4.1" },
    },
    device: {
      runner: "pi5",
      board: "raspberry-pi-5-8gb",
      hostname: "pi5-01",
      os: "Debian GNU/Linux 12 (bookworm)",
      kernel: "Linux 6.6.51",
      arch: "arm64",
      cpu: "Cortex-A76",
      cpus: 4,
      memory_mb: 8064,
    },
    telemetry: { samples: [] },
    metrics: {
      decode_tokens_per_sec: {
        ...metric("tok/s", "higher", [100, 104, 60, 102]),
        sample_flags: [[], [], ["throttled"], []],
      },
      prefill_tokens_per_sec: metric("tok/s", "higher", [400, 410, 405, 398]),
      first_token_ms: metric("ms", "lower", [2.5, 2.4, 2.6, 2.5]),
      model_load_ms: metric("ms", "lower", [12, 11, 13, 12]),
      peak_rss_mb: metric("MB", "lower", [500, 501, 501, 502]),
      pte_bytes: metric("B", "lower", [1_782_579]),
    },
    tokens: [],
    gate: {
      verdict: "pass",
      policy: { reference: "fp32", fp32: "gate" },
      first_divergence: null,
      fp32_agreement: { matching_prefix: 48, total: 48 },
    },
    stages: [],
    failure: null,
    ...over,
  };
}
