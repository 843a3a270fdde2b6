/**
 * Which cells `pte-farm run` can run on this machine, decided before any stage starts. The stages
 * today take decoder LMs from a local folder; a hub model runs only when its pinned revision is
 * already in the local Hugging Face cache (we never download: runs are offline and reproducible).
 * CNNs take the same path (their folder is a pte-farm CNN folder, stages/pte_stages/modeling/small_cnn.py).
 * Everything else is refused with what to do.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import type { ModelDef } from "../../../matrix/types.ts";
import { ConfigurationError } from "../core/errors.ts";
import { cellId } from "../schemas/cell-id.ts";

/** A cell whose model is on disk. */
export type RunnableCell = Cell & { model: ModelDef & { path: string } };

/** The hub cache as huggingface_hub lays it out: `HF_HUB_CACHE`, else `HF_HOME/hub`, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return path.join(env.HF_HOME ?? path.join(os.homedir(), ".cache", "huggingface"), "hub");
}

/** The snapshot folder of a pinned hub revision, if its config.json is already cached. */
export function cachedSnapshot(hub: { id: string; revision: string }, env: NodeJS.ProcessEnv = process.env) {
  const dir = path.join(
    hubCacheDir(env),
    `models--${hub.id.replaceAll("/", "--")}`,
    "snapshots",
    hub.revision,
  );
  return existsSync(path.join(dir, "config.json")) ? dir : null;
}

/**
 * The cell on disk, or a ConfigurationError saying how to get its model — and, when `twin` names
 * the hub model's shipped twin, the twin's cell that runs here instead.
 */
export function runnableCell(
  cell: Cell,
  env: NodeJS.ProcessEnv = process.env,
  twin: string | null = cell.model.twin,
): RunnableCell {
  const { model } = cell;
  if (model.path !== null) return { ...cell, model: { ...model, path: model.path } };
  if (model.hub === null) throw new Error(`bug: model ${model.name} has neither path nor hub`);
  const snapshot = cachedSnapshot(model.hub, env);
  if (snapshot === null) {
    throw new ConfigurationError(
      `cell ${cell.id}: model ${model.name} needs the Hugging Face hub: ${model.hub.id} at revision ` +
        `${model.hub.revision}, which is not in the local cache (${hubCacheDir(env)}). pte-farm never ` +
        `downloads; fetch it once with \`huggingface-cli download ${model.hub.id} --revision ${model.hub.revision}\`, ` +
        "or point the model at a local folder with `path:`" +
        (twin === null
          ? ""
          : `. Its architecture runs here as the shipped twin ${twin}: pte-farm run --cells '${cellId({ ...cell.ref, model: twin })}'`),
    );
  }
  return { ...cell, model: { ...model, path: snapshot } };
}
