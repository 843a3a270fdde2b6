/**
 * PyTorch's OSS benchmark database, schema v3 (pytorch/test-infra, the format ExecuTorch's own
 * mobile benchmarks upload): one JSON object per (benchmark, model, metric), with the raw values
 * in `metric.benchmark_values` and the device in `runners`. We put the farm's cell, session and
 * role in `extra_info`, where the database keeps free-form context.
 */
import type { RunRecord } from "../../schemas/run-record.ts";
import { type MetricSummary, summaries } from "./common.ts";

export interface PytorchV3Record {
  benchmark: { name: string; mode: string; dtype: string; extra_info: Record<string, unknown> };
  model: {
    name: string;
    type: string;
    backend: string;
    origins: string[];
    extra_info: Record<string, unknown>;
  };
  metric: {
    name: string;
    benchmark_values: number[];
    target_value: number;
    extra_info: Record<string, unknown>;
  };
  runners: {
    name: string;
    type: string;
    cpu_info: string;
    avail_mem_in_gb: number;
    total_mem_in_gb: number;
    extra_info: Record<string, unknown>;
  }[];
}

function one(s: MetricSummary): PytorchV3Record {
  const r: RunRecord = s.record;
  return {
    benchmark: {
      name: "pte-farm",
      mode: "inference",
      dtype: r.cell.recipe,
      extra_info: {
        cell: r.cell.id,
        session: r.session,
        role: r.role,
        git_sha: r.git_sha,
        status: r.status,
        gate: r.gate?.verdict ?? null,
        toolchain: r.toolchain.device ?? r.toolchain.build,
      },
    },
    model: {
      name: r.cell.model,
      type: "OSS model",
      backend: r.cell.backend,
      origins: ["pte-farm"],
      extra_info: { recipe: r.cell.recipe },
    },
    metric: {
      name: s.name,
      benchmark_values: s.samples,
      // 0: no target, as ExecuTorch's own uploads do; pte-farm's verdicts come from `compare`.
      target_value: 0,
      extra_info: { unit: s.metric.unit, better: s.metric.better, flagged_reps_left_out: s.flagged },
    },
    runners: [
      {
        name: r.device.runner,
        type: r.device.os,
        cpu_info: r.device.cpu,
        avail_mem_in_gb: 0, // not measured; the database's own examples use 0 for unknown
        total_mem_in_gb: Math.round((r.device.memory_mb / 1024) * 10) / 10,
        extra_info: {
          board: r.device.board,
          kernel: r.device.kernel,
          arch: r.device.arch,
          cpus: r.device.cpus,
        },
      },
    ],
  };
}

export function toPytorchV3(records: readonly RunRecord[]): PytorchV3Record[] {
  return summaries(records).map(one);
}
