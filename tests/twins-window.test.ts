/**
 * Gemma 4's sliding window, through the real stages on the shipped twin (gemma-4-tiny: window 8,
 * sliding and full attention layers, KV sharing). The `.pte` generates far past the window, and its
 * logits match eager *with that window* at every step (the numerics gate passes); against eager with
 * a window wider than the whole sequence — what an export that ignored the window would compute —
 * the same `.pte` fails the numerics gate, so the check can fail. Portable backend: fp32 kernels
 * closest to eager, so the tolerance is the shipped one.
 */
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, STAGES_DIR } from "../actions/src/core/paths.ts";
import { gateNumerics, referenceLogits } from "../actions/src/gate/numerics.ts";
import { runStage, type StageCommand } from "../actions/src/pipeline/stage-process.ts";
import type { ExecuteData, ReferenceData, StageName, StageSpec } from "../actions/src/schemas/stage.ts";
import { loadFarm } from "../matrix/load.ts";
import { hasRealPython, hasRealStage, makeSpec, realPython, tempDir } from "./helpers/env.ts";

const ready = hasRealPython && hasRealStage("execute");
const real: StageCommand = { python: realPython, package: "pte_stages", pythonPath: [STAGES_DIR] };
const farm = await loadFarm(DEFAULT_MATRIX, { checkFiles: false });
// The shipped twin as gemma-4-e2b's matrix entry would run it (prompts as trained, window 8 < 64).
const twin = {
  name: "gemma-4-tiny",
  path: path.join(STAGES_DIR, "models", "gemma-4-tiny"),
  prompts: ["The capital of France is", "Write a haiku about the sea."],
  max_new_tokens: 32,
  max_seq_len: 64,
};
const tolerance = farm.recipes.get("fp32")?.numerics ?? null;

async function ok<S extends StageName>(stage: S, spec: StageSpec) {
  const out = await runStage(stage, { command: real, spec, dir: await tempDir(), timeoutMs: 1_200_000 });
  if (out.kind !== "ok") {
    const log = await readFile(out.logPath, "utf8").catch(() => "");
    expect.fail(`${stage}: ${out.reason ?? ""}\n${log.split("\n").slice(-30).join("\n")}`);
  }
  return out;
}

describe.runIf(ready)("gemma-4-tiny's sliding window through the stages", () => {
  it("the .pte matches eager with its window far past the window, and fails the numerics gate against a wider one", async () => {
    if (twin?.path == null || tolerance === null)
      throw new Error("the matrix needs gemma-4-tiny and fp32's numerics");
    const config = JSON.parse(await readFile(path.join(twin.path, "config.json"), "utf8"));
    const window = config.sliding_window as number;
    const model = { id: twin.name, path: twin.path, max_seq_len: twin.max_seq_len };
    const common = {
      cell: {
        model: twin.name,
        recipe: "fp32",
        backend: "portable",
        device: "host-x86_64",
        toolchain: "stable",
      },
      model,
      prompts: twin.prompts,
      max_new_tokens: twin.max_new_tokens,
      backend: { name: "portable", kind: "portable" },
    };
    const ref = (await ok("reference", makeSpec("reference", common))).data as ReferenceData;
    const exp = await ok("export", makeSpec("export", common));
    const low = await ok(
      "lower",
      makeSpec("lower", { ...common, inputs: { program: path.join(exp.dir, "program.pt2") } }),
    );
    const execute = async (reference: ReferenceData) => {
      const spec = makeSpec("execute", {
        ...common,
        inputs: { pte: path.join(low.dir, "model.pte"), manifest: path.join(low.dir, "manifest.json") },
      });
      spec.execute = {
        ...spec.execute,
        reps: 1,
        warmup: 0,
        prompt_ids: reference.prompts.map((p) => p.prompt_ids),
      };
      const logits = referenceLogits(reference, "fp32");
      if (logits === undefined) throw new Error("the reference kept no logits");
      spec.execute.reference_logits = logits;
      return (await ok("execute", spec)).data as ExecuteData;
    };

    // With its own window: every token equal, every step within the fp32 tolerance, and the steps
    // compared reach positions well past the window (prompt + generated > 2 × window).
    const own = await execute(ref);
    expect(own.prompts.map((p) => p.ids)).toEqual(ref.prompts.map((p) => p.fp32.ids));
    const numerics = own.numerics;
    if (numerics === undefined) throw new Error("execute reported no numerics");
    expect(gateNumerics(numerics, tolerance).verdict).toBe("pass");
    numerics.prompts.forEach((p, i) => {
      expect(p.steps).toBe(ref.prompts[i]?.fp32.ids.length);
      expect((ref.prompts[i]?.prompt_ids.length ?? 0) + p.steps).toBeGreaterThan(2 * window);
    });

    // Eager with a window wider than the whole sequence: the same .pte fails the numerics gate, at
    // a step past the window.
    const wide = path.join(await tempDir(), "gemma-4-tiny-wide");
    await cp(twin.path, wide, { recursive: true });
    // Edited as text: JSON.stringify would write soft-capping's 30.0 as 30, which transformers'
    // strict config validation refuses (expected float, got int).
    const text = await readFile(path.join(twin.path, "config.json"), "utf8");
    const widened = text.replace(/"sliding_window": \d+/, `"sliding_window": ${4 * twin.max_seq_len}`);
    expect(widened).not.toBe(text);
    await writeFile(path.join(wide, "config.json"), widened);
    const wideRef = (
      await ok("reference", makeSpec("reference", { ...common, model: { ...model, path: wide } }))
    ).data as ReferenceData;
    expect(wideRef.prompts.map((p) => p.prompt_ids)).toEqual(ref.prompts.map((p) => p.prompt_ids));
    const against = await execute(wideRef);
    const g = gateNumerics(against.numerics as NonNullable<ExecuteData["numerics"]>, tolerance);
    expect(g.verdict).toBe("fail");
    const worst = g.worst;
    if (worst === null) throw new Error("no step compared");
    expect(worst.max_abs_dlogit ?? Number.POSITIVE_INFINITY).toBeGreaterThan(100 * tolerance.max_abs_dlogit);
    expect((ref.prompts[worst.prompt_index]?.prompt_ids.length ?? 0) + worst.step).toBeGreaterThan(window);
  }, 1_800_000);
});
