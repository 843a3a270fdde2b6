import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { KNOWN_ISSUES_FILE } from "../actions/src/core/paths.ts";
import { satisfies } from "../actions/src/core/version-range.ts";
import { type FailureContext, reproduceCommand, triage } from "../actions/src/pipeline/triage.ts";
import { type KnownIssue, loadKnownIssues } from "../matrix/known-issues.ts";
import { hasRealPython, realPython } from "./helpers/env.ts";

const STABLE = {
  python: "3.11.7",
  torch: "2.13.0+cpu",
  executorch: "1.4.1",
  torchao: "0.18.0",
  transformers: "5.23.0",
};
const OLD = {
  python: "3.11.7",
  torch: "2.11.0+cpu",
  executorch: "1.2.0",
  torchao: "0.17.0",
  transformers: "5.5.1",
};

let issues: KnownIssue[];
beforeAll(async () => {
  issues = await loadKnownIssues(KNOWN_ISSUES_FILE);
});

function ctx(over: Partial<FailureContext>): FailureContext {
  return {
    stage: "lower",
    log: "",
    toolchain: STABLE,
    toolchainName: "stable",
    platform: "linux-x64",
    recipe: { name: "8da4w-g32", scheme: "8da4w", group_size: 32 },
    ...over,
  };
}

// The signatures below are the log lines UPSTREAM-ISSUES.md records from the Gemma 4 E2B deployment.
const XNN_AARCH64_LOG = [
  "I 00:00:01.204 executorch:method.cpp:120] Initializing backend XnnpackBackend",
  "E 00:00:01.311 executorch:XNNCompiler.cpp:635] Failed to define tensor 27 with code: xnn_status_invalid_parameter",
  "E 00:00:01.311 executorch:XNNPACKBackend.cpp:106] XNNCompiler::compileModel failed: 0x1",
  "E 00:00:01.311 executorch:method.cpp:110] Init failed for backend XnnpackBackend: 0x1",
].join("\n");

describe("known-issue catalogue", () => {
  it("holds all 10 rows of UPSTREAM-ISSUES.md, each with a workaround", () => {
    // Entries the farm found itself (the twins' toolchain findings) have no upstream row.
    expect(issues.map((i) => i.upstream).filter((u) => u !== undefined && u !== null)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    for (const i of issues) expect(i.workaround.length).toBeGreaterThan(10);
  });

  it("matches the XNNPACK aarch64 rejection on linux-arm64 with executorch 1.2.0", () => {
    const t = triage(
      issues,
      ctx({ stage: "execute", log: XNN_AARCH64_LOG, platform: "linux-arm64", toolchain: OLD }),
    );
    expect(t.kind).toBe("known");
    expect(t.summary).toMatch(
      /^known issue xnnpack-aarch64-fused-int4: .* — Lower with XnnpackPartitioner\(per_op_mode=True\)/,
    );
  });

  it("calls the same log with executorch 1.4.1 a new failure that resembles the known issue (a regression)", () => {
    const t = triage(issues, ctx({ stage: "execute", log: XNN_AARCH64_LOG, platform: "linux-arm64" }));
    expect(t.kind).toBe("resembles");
    expect(t.summary).toMatch(
      /^new failure in stage execute with toolchain stable \(torch 2\.13\.0\+cpu, executorch 1\.4\.1/,
    );
    expect(t.summary).toContain("executorch 1.4.1 (seen with >=1.2.0 <1.4.0)");
  });

  it("tells the build/device torch mismatch apart from the aarch64 rejection (same signature, different cause)", () => {
    const t = triage(
      issues,
      ctx({
        stage: "execute",
        log: XNN_AARCH64_LOG,
        buildToolchain: { ...STABLE, torch: "2.11.0" },
        platform: "linux-x64",
      }),
    );
    expect(t.issue?.id).toBe("build-device-torch-mismatch");
    expect(t.kind).toBe("known");
  });

  it("matches StaticCache's lifted constants in lower", () => {
    const log =
      "torch._export.verifier.SpecViolationError: Constant L__self___model_cache_lifted_tensor_0 is mutated in the forward method. Pls register it as buffer";
    expect(triage(issues, ctx({ log, toolchain: OLD })).issue?.id).toBe("static-cache-lifted-constants");
  });

  it("prefers the BF16-baseline entry over the generic one when the recipe is bf16", () => {
    const log =
      "RuntimeError: Missing out variants: {'torchao::quantize_affine', 'torchao::choose_qparams_affine', 'torchao::dequantize_affine'}";
    expect(triage(issues, ctx({ log, toolchain: OLD })).issue?.id).toBe(
      "torchao-quantized-embedding-no-out-variants",
    );
    const bf16 = ctx({ log, toolchain: OLD, recipe: { name: "bf16-8da4w", scheme: "8da4w", dtype: "bf16" } });
    expect(triage(issues, bf16).issue?.id).toBe("bf16-baseline-int4-no-out-variants");
  });

  it("ignores a signature seen in a stage the issue does not apply to", () => {
    const log = "RuntimeError: Missing out variants: {'torchao::quantize_affine'}";
    expect(triage(issues, ctx({ stage: "execute", log, toolchain: OLD })).kind).toBe("new");
  });

  it.skipIf(!hasRealPython)(
    "matches torchao's removed int4_weight_only from a real ImportError of the pinned torchao",
    async () => {
      const res = await execa(realPython, ["-c", "from torchao.quantization import int4_weight_only"], {
        reject: false,
      });
      expect(res.exitCode).toBe(1);
      const t = triage(issues, ctx({ stage: "quantize", log: res.stderr }));
      expect(t.kind).toBe("known");
      expect(t.issue?.id).toBe("torchao-cpu-int4-removed");
    },
  );

  it("reports an unmatched failure as new, with stage and toolchain", () => {
    const t = triage(issues, ctx({ log: "RuntimeError: something nobody has seen" }));
    expect(t).toMatchObject({ kind: "new", issue: null });
    expect(t.summary).toBe(
      "new failure in stage lower with toolchain stable (torch 2.13.0+cpu, executorch 1.4.1, torchao 0.18.0, transformers 5.23.0)",
    );
  });

  it("builds a one-line reproduce command for the stage and for the cell", () => {
    const line = reproduceCommand({
      python: ".venv/bin/python",
      stage: "lower",
      specInOut: path.join("builds", "tiny-llama", "lower-fp32-xnnpack", "spec.json"),
      cellId: "tiny-llama/fp32/xnnpack/host-x86_64@stable",
    });
    expect(line).toBe(
      'PYTHONPATH=stages .venv/bin/python -m pte_stages.lower --spec "$OUT"/builds/tiny-llama/lower-fp32-xnnpack/spec.json --out /tmp/pte-farm-repro' +
        "   # OUT: the run's output folder; or: node actions/src/cli/pte-farm.ts run --no-cache --cells tiny-llama/fp32/xnnpack/host-x86_64@stable",
    );
  });
});

describe("version ranges", () => {
  it("ignores the local part and orders dev builds before their release", () => {
    expect(satisfies("2.11.0+cpu", "==2.11.0")).toBe(true);
    expect(satisfies("1.4.0.dev20260101", ">=1.2.0 <1.4.0")).toBe(true);
    expect(satisfies("1.4.0", ">=1.2.0 <1.4.0")).toBe(false);
    expect(satisfies("0.18.0", ">=0.17.0")).toBe(true);
    expect(satisfies("anything", "*")).toBe(true);
  });
});
