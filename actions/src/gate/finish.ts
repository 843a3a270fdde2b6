/**
 * The one finish step of a cell, whoever ran it: `pte-farm run` (pipeline/cell.ts, one process)
 * and the gate action (action-runs/gate.ts, the last step of a device job, reading what earlier
 * steps and jobs left). Both hand in what the cell's stages produced; this gates the tokens under
 * the cell's policy — the only call site of {@link defaultPolicy} — and assembles the run
 * record(s). What differs between the two callers is injected: how a reference and an execute
 * result that cannot be compared at all is reported ({@link FinishInput.incomparable}).
 */
import type { Cell } from "../../../matrix/cells.ts";
import { inRunOutput } from "../core/paths.ts";
import type { FailureNote, Step } from "../pipeline/step-runner.ts";
import { buildRunRecord } from "../records/build.ts";
import type { DeviceInfo, TelemetrySample } from "../records/host-info.ts";
import type { Manifest } from "../schemas/manifest.ts";
import type { GateResult, Role, RunRecord } from "../schemas/run-record.ts";
import type { ExecuteData, ReferenceData, StageName, ToolchainVersions } from "../schemas/stage.ts";
import { gateNumerics } from "./numerics.ts";
import { defaultPolicy, GateInputError, gate } from "./policy.ts";

export interface FinishInput {
  cell: Cell;
  session: string;
  /** The record's role; an interleaved session (execute data with `base`) writes base and head. */
  role: Role;
  gitSha: string | null;
  startedAt: string;
  /** Every step the cell ran, in pipeline order; the first that did not succeed decides the status. */
  steps: Step[];
  /**
   * The run's output folder. The record names each step's folder and log relative to it, so
   * records and history carry no path of the machine that made them.
   */
  outDir: string;
  device: DeviceInfo;
  /** The orchestrator's readings around execute. */
  telemetry: TelemetrySample[];
  reference: ReferenceData | null;
  execute: ExecuteData | null;
  /** The execute result's toolchain (the device side). */
  deviceToolchain: ToolchainVersions | null;
  /** The lower stage's manifest: build toolchain, delegation report, and the `.pte` execute ran. */
  manifest: Manifest | null;
  /** The interleaved base `.pte`'s sha256, when execute measured one. */
  basePteSha256?: string;
  /** The interleaved base's commit (a pull request's base); default gitSha. */
  baseGitSha?: string;
  /** A failure found outside any stage before the gate (e.g. a stage broke its output contract). */
  failure: FailureNote | null;
  /**
   * Reference and execute data that cannot be compared at all (other prompts, other lengths).
   * Return the failure to record (our own stages broke their contract), or throw (the gate action:
   * its inputs are the user's, so that is bad input).
   */
  incomparable: (stage: StageName | undefined, message: string) => FailureNote;
}

/**
 * A cell's tokens under its policy: the one place the policy is chosen (from the reference, and
 * the cell's `fp32` setting). Throws GateInputError when the two cannot be compared at all.
 */
export function gateTokens(
  reference: Parameters<typeof gate>[0],
  actual: Parameters<typeof gate>[1],
  fp32Gate?: "gate" | "report",
): GateResult {
  return gate(reference, actual, defaultPolicy(reference, fp32Gate));
}

/**
 * Gates and records one cell: one record, or for an interleaved session two (role base and role
 * head, same session), each gated against the cell's reference.
 */
export function finishCell(f: FinishInput): RunRecord[] {
  let failure = f.failure;
  const { reference, execute, cell } = f;
  // No tokens to gate (a CNN on the FVP): the device compared the outputs itself (Test_result: PASS).
  const checkedOnDevice = execute?.driver?.output_check !== undefined && execute.prompts.length === 0;
  if (
    failure === null &&
    execute !== null &&
    reference !== null &&
    cell.recipe.quantized &&
    reference.prompts.some((p) => p.quantized === null)
  ) {
    failure = f.incomparable(
      "reference",
      `recipe ${cell.recipe.name} is quantized but the reference has no quantized tokens`,
    );
  }
  const gateOf = (data: Pick<ExecuteData, "prompts" | "numerics">): GateResult | null => {
    if (failure !== null || checkedOnDevice) return null;
    const prompts = reference?.prompts ?? [];
    try {
      const tokens = gateTokens(prompts, data.prompts, cell.fp32Gate);
      if (data.numerics === undefined) return tokens;
      // Beside the tokens: logits drift beyond the recipe's tolerance fails a cell whose tokens match.
      const numerics = gateNumerics(data.numerics, cell.recipe.numerics);
      return {
        ...tokens,
        verdict: numerics.verdict === "fail" ? "fail" : tokens.verdict,
        numerics,
      };
    } catch (err) {
      if (!(err instanceof GateInputError)) throw err;
      failure = f.incomparable(undefined, `gate: ${err.message}`);
      return null;
    }
  };
  const headGate = execute === null ? null : gateOf(execute);
  const baseData = execute?.base;
  const baseGate = baseData === undefined ? null : gateOf(baseData);
  const finishedAt = new Date().toISOString();
  const steps = f.steps.map((s) => ({
    ...s,
    dir: inRunOutput(f.outDir, s.dir),
    logPath: s.logPath === null ? null : inRunOutput(f.outDir, s.logPath),
  }));
  const man = f.manifest;
  const one = (role: Role, data: Omit<ExecuteData, "base" | "order"> | null, g: GateResult | null) =>
    buildRunRecord({
      cell,
      session: f.session,
      role,
      gitSha: role === "base" ? (f.baseGitSha ?? f.gitSha) : f.gitSha,
      startedAt: f.startedAt,
      finishedAt,
      steps,
      device: f.device,
      telemetry: f.telemetry,
      buildToolchain: man?.toolchain ?? null,
      deviceToolchain: f.deviceToolchain,
      reference,
      execute: data,
      gate: g,
      failure,
      ...(man?.delegation === undefined ? {} : { delegation: man.delegation }),
      // Execute ran only a .pte whose sha256 is its manifest's, so the manifest names the measured bytes.
      ...(data !== null && role !== "base" && man !== null
        ? { pte: { sha256: man.pte.sha256, bytes: man.pte.bytes } }
        : {}),
      ...(baseData !== undefined && execute?.order !== undefined && f.basePteSha256 !== undefined
        ? {
            interleave: {
              order: execute.order,
              partner_pte_sha256: role === "head" ? f.basePteSha256 : (man?.pte.sha256 ?? ""),
              ...(execute.adaptive === undefined ? {} : { adaptive: execute.adaptive }),
            },
          }
        : {}),
    });
  if (baseData === undefined) return [one(f.role, execute, headGate)];
  return [one("base", baseData, baseGate), one("head", execute, headGate)];
}
