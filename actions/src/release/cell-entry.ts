/**
 * One cell's entry in the release manifest, from the three things that vouch for it: the build's
 * manifest (what the bytes are and how they were made), the device's run record (that they passed
 * and how fast they ran) and the file as written (its hash, size and parts).
 */

import { parse } from "../core/validate.ts";
import { timingCounts } from "../records/emulated.ts";
import { cleanSamples, median } from "../records/samples.ts";
import type { Manifest } from "../schemas/manifest.ts";
import { type BenchFigure, buildModel, type ReleaseCell } from "../schemas/release-manifest.ts";
import type { GateResult, RunRecord } from "../schemas/run-record.ts";
import { medianCi } from "../stats/median-ci.ts";
import type { SplitFile } from "./parts.ts";

export const BENCH_CONFIDENCE = 0.95;

/**
 * Every metric of the record as its median and distribution-free 95% interval, flagged reps left
 * out. An emulated device's timings are QEMU's: a release publishes none of them (its size counts).
 */
export function benchFigures(record: RunRecord): Record<string, BenchFigure> {
  const out: Record<string, BenchFigure> = {};
  for (const name of Object.keys(record.metrics).sort()) {
    const m = record.metrics[name];
    if (m === undefined || !timingCounts(record, name)) continue;
    const samples = cleanSamples(m);
    const ci = medianCi(samples, BENCH_CONFIDENCE);
    out[name] = {
      unit: m.unit,
      better: m.better,
      n: samples.length,
      median: median(samples),
      ci: ci === null ? null : [ci.lo, ci.hi],
      confidence: BENCH_CONFIDENCE,
    };
  }
  return out;
}

export function releaseCellEntry(
  record: RunRecord & { gate: GateResult; git_sha: string },
  built: Manifest,
  rawModel: unknown,
  file: SplitFile,
): ReleaseCell {
  return {
    cell: { ...record.cell },
    file: { name: file.name, sha256: file.sha256, bytes: file.bytes, parts: file.parts },
    toolchain: {
      name: record.toolchain.name,
      build: built.toolchain,
      device: record.toolchain.device ?? {},
    },
    build: {
      program_sha256: built.program.sha256,
      delegation: built.delegation,
      model: parse(buildModel, rawModel, "manifest.json model"),
      recipe: built.recipe,
      backend: built.backend,
      created_at: built.created_at,
    },
    gate: record.gate,
    bench: benchFigures(record),
    roofline: record.roofline ?? null,
    device: {
      runner: record.device.runner,
      board: record.device.board,
      os: record.device.os,
      kernel: record.device.kernel,
      cpu: record.device.cpu,
    },
    run: {
      session: record.session,
      started_at: record.started_at,
      finished_at: record.finished_at,
      git_sha: record.git_sha,
    },
  };
}
