/**
 * Requests for the execute drivers in tests: a cell of the real matrix, a `.pte` and a manifest
 * that describes it, a fresh step folder. The `.pte` is whatever bytes the test needs (a stand-in
 * FVP never reads it; the llama-main tests pass a real one).
 */
import { stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256File } from "../../actions/src/core/hashing.ts";
import { RecordingLogger } from "../../actions/src/core/logger.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../../actions/src/core/paths.ts";
import type { DriverRequest, DriverSettings } from "../../actions/src/drivers/driver.ts";
import { matrixCellById } from "../../actions/src/pipeline/stage-job.ts";
import type { Manifest } from "../../actions/src/schemas/manifest.ts";
import { loadFarm } from "../../matrix/load.ts";
import { realPython, tempDir } from "./env.ts";

export const FVP_STAND_IN = path.join(REPO_ROOT, "tests", "fixtures", "fvp", "fvp-documented-output.sh");
export const U55_CELL = "small-cnn/ethos-u-int8/ethos-u55-128/corstone-300-u55@stable";
export const U85_CELL = "small-cnn/ethos-u-int8/ethos-u85-256/corstone-320-u85@stable";

export async function manifestFor(pte: string, cellId: string, executorch = "1.4.1"): Promise<Manifest> {
  const [model, recipe, backend] = cellId.split("/");
  const sha256 = await sha256File(pte);
  return {
    schema: "pte-farm/manifest@1",
    cell: {
      model: model ?? "",
      recipe: recipe ?? "",
      backend: backend ?? "",
      toolchain: "stable",
      id: cellId,
    },
    pte: { file: path.basename(pte), sha256, bytes: (await stat(pte)).size },
    program: { sha256 },
    toolchain: { executorch, torch: "2.13.0+cpu" },
    delegation: { backend: backend ?? "", delegated_subgraphs: 1, delegated_ops: 7, cpu_ops: {} },
    model: { id: model ?? "", max_seq_len: 0, vocab_size: 0 },
    recipe: { name: recipe },
    backend: { name: backend },
    created_at: "2026-01-01T00:00:00Z",
  };
}

export interface TestRequest extends DriverRequest {
  logger: RecordingLogger;
  root: string;
}

/**
 * A request for `cellId` with a fresh .pte and its manifest written beside it; with `bpte`, also a
 * bundled program beside them that the manifest names, as the lower stage writes for Ethos-U.
 */
export async function driverRequest(
  cellId: string,
  over: {
    settings?: Partial<DriverSettings>;
    pte?: string;
    timeoutS?: number;
    reps?: number;
    warmup?: number;
    bpte?: boolean;
  } = {},
): Promise<TestRequest> {
  const root = await tempDir("pte-farm-driver-");
  const farm = await loadFarm(DEFAULT_MATRIX);
  const cell = matrixCellById(farm, cellId);
  let pte = over.pte;
  if (pte === undefined) {
    pte = path.join(root, "model.pte");
    await writeFile(pte, "ET12 not a real program");
  }
  const manifest = await manifestFor(pte, cellId);
  if (over.bpte) {
    const bpte = path.join(root, "model.bpte");
    await writeFile(bpte, "BP07 not a real bundled program");
    const [sha256, { size }] = await Promise.all([sha256File(bpte), stat(bpte)]);
    manifest.bpte = { file: "model.bpte", sha256, bytes: size, method: "forward", test_cases: 10 };
  }
  const manifestPath = path.join(root, "manifest.json");
  await writeFile(manifestPath, JSON.stringify(manifest));
  return {
    farm,
    cell,
    pte,
    manifestPath,
    manifest,
    promptIds: [],
    warmup: over.warmup ?? 0,
    reps: over.reps ?? 1,
    dir: path.join(root, "execute"),
    outDir: root,
    timeoutS: over.timeoutS ?? 60,
    python: realPython,
    settings: {
      runner: "",
      tokenizer: "",
      fvp: "",
      pteAddress: "",
      runnerExecutorch: null,
      ...over.settings,
    },
    logger: new RecordingLogger(),
    root,
  };
}

/** The stand-in FVP's "ELF": what it should do, one key=value per line (see fvp-documented-output.sh). */
export async function standInElf(root: string, behaviour: Record<string, string>): Promise<string> {
  const elf = path.join(root, "arm_executor_runner");
  await writeFile(
    elf,
    `${Object.entries(behaviour)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`,
  );
  return elf;
}
