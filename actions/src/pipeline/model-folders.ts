/**
 * Model folders checked before any stage starts (`pte-farm validate`, `pte-farm run`): the matrix
 * loader has already checked that the files exist (matrix/load.ts `missingModelFiles`); this asks
 * the toolchain's own loaders whether they load (stages/pte_stages/probes/model_folder.py): the
 * config parses and its model_type is known, the weights fit that architecture with nothing
 * missing or mis-shaped, the tokenizer loads and every prompt tokenizes inside the vocabulary and
 * fits max_seq_len. A broken folder is a ConfigurationError (exit 2) naming the file, what is
 * wrong and what to do — not a reference stage failing inside transformers much later.
 *
 * One interpreter start checks every model (importing torch and transformers dominates: ~5 s).
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { ModelDef } from "../../../matrix/types.ts";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import { STAGES_DIR } from "../core/paths.ts";
import { arr, type Infer, literal, num, obj, parseJson, str } from "../core/validate.ts";

const TIMEOUT_MS = 600_000;

const report = obj({
  schema: literal("pte-farm/model-folders@1"),
  models: arr(
    obj({
      name: str,
      problems: arr(obj({ file: str, problem: str, fix: str })),
      seconds: num,
    }),
  ),
});
export type ModelFolderReport = Infer<typeof report>;

/** A model as the check needs it: on disk (a hub model resolved to its cached snapshot). */
export type FolderModel = Pick<ModelDef, "name" | "kind" | "prompts" | "max_new_tokens" | "max_seq_len"> & {
  path: string;
};

/** Runs the probe; its report, or an InfrastructureError when the interpreter itself fails. */
export async function probeModelFolders(
  models: readonly FolderModel[],
  python: string,
  signal?: AbortSignal,
): Promise<ModelFolderReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pte-farm-models-"));
  try {
    const list = path.join(dir, "models.json");
    await writeFile(list, JSON.stringify(models));
    const res = await execa(python, ["-m", "pte_stages.probes.model_folder", "--models", list], {
      reject: false,
      timeout: TIMEOUT_MS,
      ...(signal === undefined ? {} : { cancelSignal: signal }),
      env: { PYTHONPATH: [STAGES_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
    });
    if (res.exitCode !== 0) {
      throw new InfrastructureError(
        `the model-folder check (${python} -m pte_stages.probes.model_folder) failed: ${res.shortMessage}\n` +
          String(res.stderr).trim().split("\n").slice(-20).join("\n"),
      );
    }
    return parseJson(report, String(res.stdout), "python -m pte_stages.probes.model_folder");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The problems as one message: one line per problem, with the file and what to do. */
export function describeProblems(found: ModelFolderReport): string | null {
  const lines = found.models.flatMap((m) =>
    m.problems.map((p) => `model ${JSON.stringify(m.name)}: ${p.file}: ${p.problem}. Fix: ${p.fix}`),
  );
  return lines.length === 0 ? null : lines.join("\n");
}

/** Every model checked once; a ConfigurationError (exit 2) listing every problem found. */
export async function checkModelFolders(
  models: readonly FolderModel[],
  python: string,
  signal?: AbortSignal,
): Promise<ModelFolderReport> {
  const unique = [...new Map(models.map((m) => [m.name, m])).values()];
  const found = await probeModelFolders(unique, python, signal);
  const problems = describeProblems(found);
  if (problems !== null) {
    throw new ConfigurationError(
      `${problems.split("\n").length === 1 ? "a model folder is" : "model folders are"} not what the stages can load:\n${problems}`,
    );
  }
  return found;
}
