/**
 * The llama-main driver end to end with ExecuTorch's own C++ LLM runner. The `llama_main` binary
 * needs a C++ build this machine cannot do, so a stand-in runs in its place
 * (tests/fixtures/llama-main/llama_main_via_pybind.py): main.cpp's flags in front of the same C++
 * TextLLMRunner, from the executorch 1.4.1 wheel — everything the driver parses is printed by
 * ExecuTorch's code. The shipped tiny model goes through the farm's own export and lower stages
 * (which write the metadata methods the runner needs), and its tokens are checked against the
 * real reference stage's greedy FP32 tokens.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, STAGES_DIR } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { llamaMainDriver } from "../actions/src/drivers/llama-main/driver.ts";
import { runStage } from "../actions/src/pipeline/stage-process.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import type { ExecuteData, ReferenceData, StageName } from "../actions/src/schemas/stage.ts";
import { driverRequest } from "./helpers/drivers.ts";
import {
  hasRealPython,
  hasRealStage,
  hasTinyLlama,
  makeSpec,
  realPython,
  TINY_LLAMA,
} from "./helpers/env.ts";
import { runLocalAction } from "./helpers/local-action.ts";

const FIXTURES = path.join(REPO_ROOT, "tests", "fixtures", "llama-main");
const CELL = "tiny-llama/fp32/xnnpack/pi5@stable";
const ready = hasRealPython && hasTinyLlama && hasRealStage("reference") && hasRealStage("lower");
const why = ready ? "" : " [SKIPPED here: needs .venv (make setup) and stages/models/tiny-llama]";
const STAND_IN =
  "[ExecuTorch's C++ TextLLMRunner via its Python binding, standing in for the llama_main binary]";
const env = { PTE_FARM_PYTHON: realPython, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };

describe.skipIf(!ready)(`the llama-main driver ${STAND_IN}`, () => {
  let root: string;
  let pte: string;
  let manifest: string;
  let referenceFile: string;
  let reference: ReferenceData;
  let llamaMain: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pte-farm-llama-main-"));
    const stage = async (name: StageName, inputs: Record<string, string> = {}) => {
      const outcome = await runStage(name, {
        command: { python: realPython, package: "pte_stages", pythonPath: [STAGES_DIR], env },
        spec: makeSpec(name, {
          cell: {
            model: "tiny-llama",
            recipe: "fp32",
            backend: "xnnpack",
            device: "pi5",
            toolchain: "stable",
          },
          prompts: ["The capital of France is", "Once upon a time"],
          max_new_tokens: 24,
          backend: { name: "xnnpack", kind: "xnnpack" },
          inputs,
        }),
        dir: path.join(root, name),
        timeoutMs: 600_000,
      });
      if (outcome.kind !== "ok") throw new Error(`${name} stage: ${outcome.reason}`);
      return outcome.data;
    };
    // fp32 needs no quantize stage: lower takes the exported program as it is.
    const [ref] = await Promise.all([
      stage("reference"),
      stage("export").then(() => stage("lower", { program: path.join(root, "export", "program.pt2") })),
    ]);
    reference = ref as ReferenceData;
    referenceFile = path.join(root, "reference", "result.json");
    pte = path.join(root, "lower", "model.pte");
    manifest = path.join(root, "lower", "manifest.json");
    llamaMain = path.join(root, "bin", "llama_main");
    await mkdir(path.dirname(llamaMain));
    await writeFile(
      llamaMain,
      `#!/bin/sh\nexec '${realPython}' '${path.join(FIXTURES, "llama_main_via_pybind.py")}' "$@"\n`,
    );
    await chmod(llamaMain, 0o755);
  }, 600_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function request(over: Parameters<typeof driverRequest>[1] = {}) {
    const req = await driverRequest(CELL, { pte, timeoutS: 600, ...over });
    req.settings = { ...req.settings, runner: llamaMain, ...over.settings };
    req.promptIds = reference.prompts.map((p) => p.prompt_ids);
    // The matrix asks a Pi 5 to cool below 50 °C before each rep; this machine is not the Pi.
    req.cell = { ...req.cell, device: { ...req.cell.device, thermal: null } };
    return req;
  }

  it(`generates the reference's greedy tokens bit for bit, with the metrics from its stats lines${why}`, async () => {
    const req = await request({ reps: 2 });
    const { step } = await llamaMainDriver.execute(req);
    expect(step.kind, `${step.reason}\n${await readFile(step.logPath ?? "", "utf8").catch(() => "")}`).toBe(
      "ok",
    );
    const data = step.data as ExecuteData;
    reference.prompts.forEach((ref, i) => {
      expect(data.prompts[i]?.prompt_ids).toEqual(ref.prompt_ids);
      expect(data.prompts[i]?.ids).toEqual(ref.fp32.ids);
      expect(data.prompts[i]?.pieces).toEqual(ref.fp32.pieces);
    });
    expect(data.metrics.decode_tokens_per_sec).toMatchObject({ unit: "tok/s", better: "higher" });
    expect(data.metrics.decode_tokens_per_sec?.samples).toHaveLength(2);
    expect(data.metrics.peak_rss_mb?.samples).toHaveLength(2);
    expect(data.metrics.pte_bytes?.samples).toEqual([(await readFile(pte)).length]);
    // Millisecond timestamps on a 2-layer model: a span may be 0 ms; then the record says so, never a made-up value.
    for (const m of ["prefill_tokens_per_sec", "first_token_ms", "model_load_ms"]) {
      if (!(m in data.metrics)) expect(data.driver?.unavailable[m]).toMatch(/too fast to measure|0 ms/);
    }
    expect(data.driver).toMatchObject({ name: "llama-main", details: { runner: llamaMain } });
    expect(data.driver?.notes.peak_rss_mb).toMatch(/lower bound/);
    expect(data.telemetry).toHaveLength(4);
    const commands = JSON.parse(await readFile(path.join(step.dir, "spec.json"), "utf8"))
      .commands as string[][];
    expect(commands[0]).toEqual([
      llamaMain,
      `--model_path=${pte}`,
      `--tokenizer_path=${path.join(TINY_LLAMA, "tokenizer.json")}`,
      "--prompt=The capital of France is",
      "--max_new_tokens=24",
      "--temperature=0",
      "--num_bos=1",
    ]);
  });

  it(`fails a runner that cannot load the .pte as a stage failure, with the runner's own message${why}`, async () => {
    const broken = path.join(root, "broken.pte");
    await writeFile(broken, "not a program");
    const { step } = await llamaMainDriver.execute(await request({ pte: broken }));
    expect(step.kind).toBe("stage-failure");
    expect(step.reason).toMatch(
      /^llama_main exited 1: E executorch:main\.cpp\] Failed to create llama runner/,
    );
    expect(step.failure?.reproduce).toMatch(/bin\/llama_main --model_path=\S*broken\.pte --tokenizer_path=/);
  });

  it(`fails a prompt the runner's tokenizer splits differently from the reference as a stage failure${why}`, async () => {
    const req = await request();
    req.promptIds = req.promptIds.map((ids) => [...ids, 5]);
    const { step } = await llamaMainDriver.execute(req);
    expect(step.kind).toBe("stage-failure");
    expect(step.reason).toMatch(
      /^llama_main's tokenizer split the prompt "The capital of France is" into 10 tokens, the reference's into 11/,
    );
  });

  it(`fails a missing llama_main as infrastructure, naming the setting to fix${why}`, async () => {
    const { step } = await llamaMainDriver.execute(
      await request({ settings: { runner: path.join(root, "bin", "no_llama_main") } }),
    );
    expect(step.kind).toBe("infra-failure");
    expect(step.reason).toMatch(
      /^could not start .*no_llama_main \(ENOENT\); set the execute action's runner input or PTE_FARM_LLAMA_MAIN$/,
    );
  });

  it(`runs under the execute and gate actions for a Pi 5 cell: gated bit-exact, the record names the driver${why}`, async () => {
    const out = path.join(root, "device-job");
    const execute = await runLocalAction(
      "execute",
      {
        cell: CELL,
        pte,
        manifest,
        reference: referenceFile,
        reps: "1",
        warmup: "0",
        runner: llamaMain,
        "out-dir": out,
      },
      env,
    );
    expect(execute.exitCode, execute.stdout).toBe(0);
    expect(execute.summary).toMatch(
      /1 reps after 0 warm-up; median decode \d+\.\d\d tok\/s \(llama-main driver\)/,
    );
    const gate = await runLocalAction(
      "gate",
      {
        cell: CELL,
        reference: referenceFile,
        execute: execute.outputs.result as string,
        manifest,
        "out-dir": out,
      },
      env,
    );
    expect(gate.exitCode, gate.stdout).toBe(0);
    const file = gate.outputs.record as string;
    const record = parseJson(runRecord, await readFile(file, "utf8"), file);
    expect(record).toMatchObject({
      status: "pass",
      gate: { verdict: "pass" },
      driver: { name: "llama-main" },
    });
    expect(record.toolchain.device).toMatchObject({ runner: llamaMain });
    expect(record.tokens.map((t) => t.generated_ids)).toEqual(reference.prompts.map((p) => p.fp32.ids));
  });
});
