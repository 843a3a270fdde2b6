/**
 * A wrong-token run, for real: the reference comes from the shipped model, the .pte from a copy
 * whose lm_head has two rows swapped (so its first greedy token is another word). The real stages
 * build and run it; the gate must fail at that first position, naming both tokens and their text.
 */
import { cp } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { STAGES_DIR } from "../actions/src/core/paths.ts";
import { defaultPolicy, describeDivergence, gate } from "../actions/src/gate/policy.ts";
import { runStage, type StageCommand } from "../actions/src/pipeline/stage-process.ts";
import type { ExecuteData, ReferenceData, StageName, StageSpec } from "../actions/src/schemas/stage.ts";
import {
  hasRealPython,
  hasRealStage,
  hasTinyLlama,
  makeSpec,
  realPython,
  TINY_LLAMA,
  tempDir,
} from "./helpers/env.ts";

const ready = hasRealPython && hasTinyLlama && hasRealStage("execute");
const why = ready ? "" : " [SKIPPED here: needs .venv, the real stages and stages/models/tiny-llama]";
const real: StageCommand = { python: realPython, package: "pte_stages", pythonPath: [STAGES_DIR] };

/** Swaps lm_head rows `a` and `b` in a copy of the model's safetensors. */
const SWAP = `
import sys
from safetensors.torch import load_file, save_file
path, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = load_file(path)
head = w["lm_head.weight"]
head[[a, b]] = head[[b, a]]
save_file(w, path, metadata={"format": "pt"})
`;

async function ok<S extends StageName>(stage: S, spec: StageSpec) {
  const out = await runStage(stage, { command: real, spec, dir: await tempDir(), timeoutMs: 600_000 });
  expect(out.kind, `${stage}: ${out.reason ?? ""}`).toBe("ok");
  return out;
}

describe.skipIf(!ready)("gate on real tokens", () => {
  it(`fails a .pte from a perturbed model at its first divergent token, with ids and text${why}`, async () => {
    const ref = (await ok("reference", makeSpec("reference"))).data as ReferenceData;
    const expected = ref.prompts[0]?.fp32;
    if (expected === undefined) throw new Error("no reference tokens");
    const [paris, other] = [expected.ids[0] as number, expected.ids[1] as number];

    const model = path.join(await tempDir(), "tiny-llama-swapped");
    await cp(TINY_LLAMA, model, { recursive: true });
    await execa(realPython, [
      "-c",
      SWAP,
      path.join(model, "model.safetensors"),
      String(paris),
      String(other),
    ]);
    const perturbed = { model: { id: "tiny-llama", path: model, max_seq_len: 128 } };

    const exp = await ok("export", makeSpec("export", perturbed));
    const program = path.join(exp.dir, "program.pt2");
    const low = await ok("lower", makeSpec("lower", { ...perturbed, inputs: { program } }));
    const spec = makeSpec("execute", {
      ...perturbed,
      inputs: { pte: path.join(low.dir, "model.pte"), manifest: path.join(low.dir, "manifest.json") },
    });
    spec.execute.prompt_ids = ref.prompts.map((p) => p.prompt_ids);
    const actual = (await ok("execute", spec)).data as ExecuteData;

    const result = gate(ref.prompts, actual.prompts, defaultPolicy(ref.prompts));
    expect(result.verdict).toBe("fail");
    expect(result.first_divergence).toMatchObject({
      reference: "fp32",
      prompt_index: 0,
      position: 0,
      expected_id: paris,
      expected_text: expected.pieces[0],
      actual_id: other,
    });
    expect(result.fp32_agreement.matching_prefix).toBe(0);
    if (result.first_divergence === null) throw new Error("a failed gate names its divergence");
    expect(describeDivergence(result.first_divergence)).toContain(
      `prompt 0, token 0: expected ${paris} ${JSON.stringify(expected.pieces[0])}, got ${other}`,
    );
  });
});
