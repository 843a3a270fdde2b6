/**
 * Builds a `pte-farm/run@1` record from what the pipeline learned about one cell, and maps records
 * to the process exit code. Pure: the pipeline gathers, this assembles.
 */

import { type Cell, cellId } from "../../../matrix/cells.ts";
import { isCancelledReason } from "../core/cancel.ts";
import { EXIT, type ExitCode } from "../core/errors.ts";
import { parse } from "../core/validate.ts";
import type { FailureNote, Step } from "../pipeline/step-runner.ts";
import {
  type GateResult,
  type Role,
  type RunRecord,
  type RunStatus,
  runRecord,
} from "../schemas/run-record.ts";
import type {
  AdaptiveSession,
  Delegation,
  DriverInfo,
  ExecuteData,
  ReferenceData,
  ToolchainVersions,
} from "../schemas/stage.ts";
import type { DeviceInfo, TelemetrySample } from "./host-info.ts";
import { roofline } from "./roofline.ts";
import { cleanSamples, median } from "./samples.ts";

export interface CellFacts {
  cell: Cell;
  session: string;
  role: Role;
  gitSha: string | null;
  startedAt: string;
  finishedAt: string;
  steps: Step[];
  device: DeviceInfo;
  telemetry: TelemetrySample[];
  buildToolchain: ToolchainVersions | null;
  deviceToolchain: ToolchainVersions | null;
  reference: ReferenceData | null;
  /** Head data, or the `base` part of an interleaved session's data for the base record. */
  execute: Omit<ExecuteData, "base" | "order"> | null;
  gate: GateResult | null;
  /** Set when the cell failed outside any stage (e.g. the gate could not compare the two stages' data). */
  failure: FailureNote | null;
  /** Set for the two records of an interleaved session (`pte-farm run --base-out`). */
  interleave?: { order: ("base" | "head")[]; partner_pte_sha256: string; adaptive?: AdaptiveSession };
  /** The `.pte`'s delegation report from its manifest, when the lower stage got that far. */
  delegation?: Delegation;
  /** The executed `.pte` (its manifest's sha256 and size), when execute ran it. */
  pte?: { sha256: string; bytes: number };
}

/**
 * The record's status: the first failed stage decides, else the gate. A cell with no tokens to
 * gate (a CNN on the FVP) passes when the device checked its outputs itself (`output_check`), which
 * the fvp driver only reports after `Test_result: PASS`.
 */
export function cellStatus(
  steps: readonly Step[],
  gate: GateResult | null,
  failure: FailureNote | null,
  outputCheck: DriverInfo["output_check"] = undefined,
): RunStatus {
  const failed = steps.find((s) => s.kind !== "ok");
  if (failed !== undefined) {
    if (failed.kind === "timeout") return "timeout";
    if (failed.kind === "infra-failure")
      return isCancelledReason(failed.reason) ? "cancelled" : "infra-error";
    return "fail";
  }
  if (failure !== null) return failure.outcome === "infra-failure" ? "infra-error" : "fail";
  if (gate === null && outputCheck === "bundled-io") return "pass";
  return gate?.verdict === "pass" ? "pass" : "fail";
}

export function buildRunRecord(f: CellFacts): RunRecord {
  const firstFailure = f.steps.find((s) => s.failure !== null)?.failure ?? f.failure;
  const record: RunRecord = {
    schema: "pte-farm/run@1",
    cell: { id: f.cell.id, ...f.cell.ref },
    session: f.session,
    role: f.role,
    git_sha: f.gitSha,
    started_at: f.startedAt,
    finished_at: f.finishedAt,
    status: cellStatus(f.steps, f.gate, f.failure, f.execute?.driver?.output_check),
    toolchain: { name: f.cell.toolchain.name, build: f.buildToolchain, device: f.deviceToolchain },
    device: f.device,
    telemetry: {
      samples: f.telemetry,
      ...(f.execute?.telemetry === undefined ? {} : { reps: f.execute.telemetry }),
    },
    metrics: f.execute?.metrics ?? {},
    tokens: (f.reference?.prompts ?? []).map((ref, i) => ({
      prompt: ref.prompt,
      prompt_ids: ref.prompt_ids,
      generated_ids: f.execute?.prompts[i]?.ids ?? [],
      reference_ids: ref.fp32.ids,
      quantized_reference_ids: ref.quantized?.ids ?? null,
    })),
    gate: f.gate,
    roofline:
      f.execute === null || f.cell.device.emulation !== null
        ? null
        : roofline(
            median(cleanSamples(f.execute.metrics.decode_tokens_per_sec)),
            median(f.execute.metrics.pte_bytes?.samples ?? []),
            f.cell.device.memoryBandwidthGbs,
          ),
    ...(f.pte === undefined ? {} : { pte: f.pte }),
    ...(f.delegation === undefined ? {} : { delegation: f.delegation }),
    ...(f.interleave === undefined ? {} : { interleave: f.interleave }),
    ...(f.execute?.driver === undefined ? {} : { driver: f.execute.driver }),
    ...(f.cell.model.twin === null ? {} : { twin_cell: cellId({ ...f.cell.ref, model: f.cell.model.twin }) }),
    ...(f.execute?.timer === undefined
      ? {}
      : {
          timer: {
            name: f.execute.timer,
            ...(f.execute.timer_fallback === undefined ? {} : { fallback: f.execute.timer_fallback }),
          },
        }),
    stages: f.steps.map((s) => ({
      stage: s.stage,
      outcome: s.kind,
      cache: s.cache,
      wall_s: Math.round(s.wallMs) / 1000,
      dir: s.dir,
      log: s.logPath,
    })),
    failure: firstFailure ?? null,
  };
  // Our own output goes through the same schema every reader uses: a bug shows up here, not downstream.
  return parse(runRecord, record, `run record ${f.cell.id}`);
}

/**
 * One exit code for many cells. Bad input (2) first: rerunning will not help until it is fixed.
 * Then infrastructure and timeouts (3), then failed stages or gates (1).
 */
export function exitCodeFor(records: readonly RunRecord[]): ExitCode {
  const outcomes = records.map((r) => r.failure?.outcome);
  if (outcomes.includes("config-error")) return EXIT.usage;
  if (records.some((r) => r.status === "infra-error" || r.status === "timeout" || r.status === "cancelled")) {
    return EXIT.infra;
  }
  if (records.some((r) => r.status === "fail")) return EXIT.failed;
  return EXIT.ok;
}
