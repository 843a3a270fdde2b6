/**
 * The CNN half of the contract, on real data: the reference, execute, manifests and run records
 * in tests/fixtures/cnn and tests/fixtures/run-records come from `pte-farm run` on the shipped
 * small CNNs (Ethos-U INT8 recipe, TOSA backend, the TOSA reference model).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_COMPARE_CONFIG, loadCompareConfig } from "../actions/src/compare/config.ts";
import { fragmentation } from "../actions/src/compare/delegation.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parse, ValidationError } from "../actions/src/core/validate.ts";
import { defaultPolicy, GateInputError, gate, OUTPUT_Q_BOUND } from "../actions/src/gate/policy.ts";
import { manifest } from "../actions/src/schemas/manifest.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { executeData, referenceData, stageResult } from "../actions/src/schemas/stage.ts";
import { renderTable } from "../reports/summary.ts";

const FIXTURES = path.join(REPO_ROOT, "tests", "fixtures");
const json = (...p: string[]) => JSON.parse(readFileSync(path.join(FIXTURES, ...p), "utf8"));
const data = (file: string) => parse(stageResult, json("cnn", file), file).data;
const reference = parse(referenceData, data("small-cnn.reference.result.json"), "reference");
const executed = parse(executeData, data("small-cnn.tosa.execute.result.json"), "execute");
const plain = parse(manifest, json("cnn", "small-cnn.tosa.manifest.json"), "plain manifest");
const lrn = parse(manifest, json("cnn", "small-cnn-lrn.tosa.manifest.json"), "lrn manifest");
const config = await loadCompareConfig(DEFAULT_COMPARE_CONFIG);
const record = (name: string) => parse(runRecord, json("run-records", name), name);

describe("the CNN gate (top-1 and INT8 outputs)", () => {
  it("bounds INT8 outputs by one quantum only when the reference carries output codes", () => {
    expect(defaultPolicy(reference.prompts)).toEqual({
      reference: "quantized",
      fp32: "report",
      max_abs_diff_q: OUTPUT_Q_BOUND,
    });
    const lm = reference.prompts.map((p) => ({
      ...p,
      quantized: p.quantized && { ...p.quantized, output_q: undefined },
    }));
    expect(defaultPolicy(lm)).toEqual({ reference: "quantized", fp32: "report" });
  });

  it("passes the TOSA reference model's output: same top-1 everywhere, codes at most one quantum off", () => {
    const g = gate(reference.prompts, executed.prompts, defaultPolicy(reference.prompts));
    expect(g.verdict).toBe("pass");
    expect(g.first_divergence).toBeNull();
    expect(g.fp32_agreement).toEqual({ matching_prefix: 10, total: 10 });
    // Measured: 4 of the 100 codes differ, each by one (integer RESCALE vs float rounding).
    expect(g.outputs).toEqual({
      max_abs_diff_q: 1,
      bound_q: 1,
      prompt_index: 4,
      position: 6,
      differing: 4,
      total: 100,
    });
  });

  it("fails when one code is two quanta off, though every top-1 still matches, and says where", () => {
    const prompts = executed.prompts.map((p) => ({ ...p, output_q: [...(p.output_q ?? [])] }));
    const codes = prompts[7]?.output_q as number[];
    codes[3] = (codes[3] as number) + 2;
    const g = gate(reference.prompts, prompts, defaultPolicy(reference.prompts));
    expect(g.verdict).toBe("fail");
    expect(g.first_divergence).toBeNull();
    expect(g.outputs).toMatchObject({ max_abs_diff_q: 2, prompt_index: 7, position: 3 });
  });

  it("fails on a top-1 class that differs from the quantized reference's, naming the class", () => {
    const prompts = executed.prompts.map((p, i) =>
      i === 2 ? { ...p, ids: [5], pieces: ["stripes at 90 degrees"] } : p,
    );
    const g = gate(reference.prompts, prompts, defaultPolicy(reference.prompts));
    expect(g.verdict).toBe("fail");
    expect(g.first_divergence).toMatchObject({
      reference: "quantized",
      prompt_index: 2,
      position: 0,
      expected_text: "stripes at 36 degrees",
      actual_text: "stripes at 90 degrees",
    });
  });

  it("refuses to gate outputs when execute sent no codes (a broken contract, not a failed gate)", () => {
    const prompts = executed.prompts.map(({ output_q: _, ...p }) => p);
    expect(() => gate(reference.prompts, prompts, defaultPolicy(reference.prompts))).toThrow(GateInputError);
  });

  it("shows the output bound in the run summary", () => {
    const table = renderTable([record("small-cnn-tosa.json")]);
    expect(table).toContain("pass (top-1 = quantized, INT8 outputs ≤1 q apart of 1 allowed, fp32 10/10)");
  });
});

describe("the CNN stage data and manifests", () => {
  it("requires a CNN execute's own metrics (inference_ms), not decode speed", () => {
    const { inference_ms: _, ...rest } = executed.metrics;
    expect(() => parse(executeData, { ...executed, metrics: rest }, "execute")).toThrow(
      /metrics\.inference_ms.*required metric is missing/,
    );
    const { model_kind: __, ...asLm } = executed;
    expect(() => parse(executeData, asLm, "execute")).toThrow(/decode_tokens_per_sec/);
  });

  it("accepts a CNN manifest without vocab_size and keeps its delegation report", () => {
    expect(plain.model.vocab_size).toBeUndefined();
    expect(plain.delegation).toEqual({
      backend: "tosa",
      delegated_subgraphs: 1,
      delegated_ops: 114,
      cpu_ops: {
        "quantized_decomposed.dequantize_per_tensor.default": 1,
        "quantized_decomposed.quantize_per_tensor.default": 1,
      },
      subgraph_ops: [114],
    });
  });

  it("still rejects a manifest whose delegation block lost its subgraph count", () => {
    const bad = json("cnn", "small-cnn.tosa.manifest.json");
    delete bad.delegation.delegated_subgraphs;
    expect(() => parse(manifest, bad, "manifest")).toThrow(ValidationError);
  });
});

describe("the fragmentation alarm", () => {
  const python = json("cnn", "fragmentation.python.json");

  it("fires when the LRN layer splits one TOSA subgraph into two, naming the CPU operators it added", () => {
    const f = fragmentation(plain.delegation, lrn.delegation);
    expect(f.alarm).toBe(true);
    expect(f.cpu_ops_added).toEqual({
      "aten.avg_pool3d.default": 1,
      "quantized_decomposed.dequantize_per_tensor.default": 1,
      "quantized_decomposed.quantize_per_tensor.default": 1,
    });
  });

  it("stays quiet when the count holds or falls", () => {
    expect(fragmentation(plain.delegation, plain.delegation).alarm).toBe(false);
    expect(fragmentation(lrn.delegation, plain.delegation)).toMatchObject({
      alarm: false,
      cpu_ops_removed: { "aten.avg_pool3d.default": 1 },
    });
  });

  it("agrees with the lower stage's Python rule on the same manifests, message and all", () => {
    expect(fragmentation(plain.delegation, lrn.delegation)).toEqual(python.base_to_head);
    expect(fragmentation(lrn.delegation, plain.delegation)).toEqual(python.head_to_base);
    expect(fragmentation(plain.delegation, plain.delegation)).toEqual(python.same);
  });

  it("is raised by compare when a change adds the LRN layer to a cell, as a note and a field", () => {
    const base = record("small-cnn-tosa.json");
    // The same cell after a change that inserted the LRN layer: the real LRN record, renamed.
    const head = { ...record("small-cnn-lrn-tosa.json"), cell: base.cell };
    const c = compareRecords(base, head, config);
    expect(c.fragmentation?.alarm).toBe(true);
    expect(c.notes).toContain(`fragmentation alarm: ${python.base_to_head.message}`);
    const quiet = compareRecords(base, base, config);
    expect(quiet.fragmentation?.alarm).toBe(false);
    expect(quiet.notes.some((n) => n.includes("fragmentation"))).toBe(false);
  });
});
