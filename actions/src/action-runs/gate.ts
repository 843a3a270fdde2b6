/**
 * The gate action: a device job's last step. The executed tokens against the reference under the
 * cell's policy, then the run record (pte-farm/run@1) from the step notes the earlier steps left
 * (outcome, cache, timings, telemetry). Run with `if: always()`, it also records a cell whose
 * build or execute failed, with that step's triage, so the report shows the failure rather than a
 * missing cell. The step fails unless the record passes, with the CLI's exit code for it.
 */

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadFarm } from "../../../matrix/load.ts";
import { renderFailureNotes, renderTable } from "../../../reports/summary.ts";
import { ConfigurationError } from "../core/errors.ts";
import { REPO_ROOT } from "../core/paths.ts";
import { finishCell } from "../gate/finish.ts";
import { describeNumerics } from "../gate/numerics.ts";
import { describeDivergence } from "../gate/policy.ts";
import { cellDir } from "../pipeline/cell.ts";
import { matrixCellById, readManifest, readStageResult } from "../pipeline/stage-job.ts";
import { readStepNotes, stepFromNote } from "../pipeline/step-notes.ts";
import { exitCodeFor } from "../records/build.ts";
import { gitSha, hostDeviceInfo } from "../records/host-info.ts";
import { defaultSession } from "../records/session.ts";
import { ROLES } from "../schemas/run-record.ts";
import type { ExecuteData, ReferenceData, ToolchainVersions } from "../schemas/stage.ts";
import { defineAction, VerdictFailure } from "./io.ts";

export const run = defineAction("gate", async (io) => {
  const startedAt = new Date().toISOString();
  const farm = await loadFarm(io.path("matrix"));
  const cell = matrixCellById(farm, io.required("cell"), "input cell");
  const outDir = io.path("out-dir");
  const notes = await readStepNotes(outDir);
  const failed = notes.find((n) => n.outcome !== "ok");

  let reference: ReferenceData | null = null;
  let execute: ExecuteData | null = null;
  let deviceToolchain: ToolchainVersions | null = null;
  const readReference = async () =>
    (await readStageResult(io.requiredPath("reference"), "reference", "input reference")).data;
  if (io.path("reference") !== "") reference = await readReference();
  if (failed === undefined) {
    const executed = await readStageResult(io.requiredPath("execute"), "execute", "input execute");
    execute = executed.data;
    deviceToolchain = executed.result.toolchain;
    // Tokens to gate need the reference (a CNN checked on the FVP has none: the device compared).
    if (execute.prompts.length > 0 || execute.driver?.output_check === undefined)
      reference ??= await readReference();
  }
  const manifestPath = io.path("manifest");
  const role = io.oneOf("role", ROLES);
  const baseManifest = io.path("base-manifest");
  const records = finishCell({
    cell,
    session: io.input("session") || defaultSession(process.env),
    role,
    gitSha: io.input("git-sha") || process.env.GITHUB_SHA || (await gitSha(REPO_ROOT)),
    startedAt: notes[0]?.started_at ?? startedAt,
    steps: notes.map(stepFromNote),
    outDir,
    device: await hostDeviceInfo(cell.device),
    telemetry: notes.flatMap((n) => n.telemetry),
    reference,
    execute,
    deviceToolchain,
    manifest: manifestPath === "" ? null : await readManifest(manifestPath),
    ...(baseManifest === "" ? {} : { basePteSha256: (await readManifest(baseManifest)).pte.sha256 }),
    ...(io.input("base-git-sha") === "" ? {} : { baseGitSha: io.input("base-git-sha") }),
    failure: null,
    // The reference and execute results are this action's inputs: ones that do not belong together are bad input.
    incomparable: (_stage, message) => {
      throw new ConfigurationError(`inputs reference and execute are not of the same prompts: ${message}`);
    },
  });
  // An interleaved session: base then head, each gated (the head's is this step's verdict).
  const record = records[records.length - 1];
  if (record === undefined) throw new Error("bug: finishCell returned no record");
  const dir = cellDir(outDir, cell);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, role === "base" ? "run.base.json" : "run.json");
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  if (records.length === 2 && records[0] !== undefined) {
    const baseFile = path.join(dir, "run.base.json");
    await writeFile(baseFile, `${JSON.stringify(records[0], null, 2)}\n`);
    io.output("base-record", baseFile);
  }
  const verdict = record.gate;
  const checkedOnDevice = verdict === null && record.driver?.output_check !== undefined;
  io.output("record", file);
  io.output("verdict", verdict?.verdict ?? "fail");
  io.output("status", record.status);
  const notesText = renderFailureNotes([record]);
  await io.summary(
    `### pte-farm gate: ${cell.id}\n\n${renderTable([record])}\n${notesText === "" ? "" : `\n${notesText}\n`}`,
  );
  if (record.status !== "pass") {
    const why =
      record.failure?.message ??
      (verdict?.first_divergence
        ? describeDivergence(verdict.first_divergence)
        : verdict?.numerics?.verdict === "fail"
          ? describeNumerics(verdict.numerics)
          : `status ${record.status}`);
    throw new VerdictFailure(`cell ${cell.id}: ${record.status}: ${why}`, exitCodeFor([record]));
  }
  io.logger.info(
    checkedOnDevice
      ? `cell ${cell.id}: pass (outputs checked on the device: ${record.driver?.output_check}, Test_result PASS)`
      : `cell ${cell.id}: pass (tokens bit-exact vs the ${verdict?.policy.reference} reference)`,
  );
});
