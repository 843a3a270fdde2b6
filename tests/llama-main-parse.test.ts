/**
 * The llama-main driver's parsers on real llama_main output (tests/fixtures/llama-main/SOURCES.md
 * says where each file comes from): the `PyTorchObserver {json}` stats line across ExecuTorch
 * releases and runners, and the generated text in stdout, alone or merged with the runner's logs.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { generatedText, reportedRssMib, stripRunnerLogs } from "../actions/src/drivers/llama-main/output.ts";
import {
  findStatsJson,
  generationTimes,
  parseStats,
  rate,
  StatsLineError,
} from "../actions/src/drivers/llama-main/stats.ts";

const fixture = (name: string) =>
  readFile(path.join(REPO_ROOT, "tests", "fixtures", "llama-main", name), "utf8");

const COOKIE_PROMPT =
  "<|start_header_id|>system<|end_header_id|>\\nYour name is Cookie. you are helpful, polite, precise, concise, honest, " +
  "good at writing. You always give precise and brief answers up to 32 words<|eot_id|><|start_header_id|>user" +
  "<|end_header_id|>\\nHey Cookie! how are you today?<|eot_id|><|start_header_id|>assistant<|end_header_id|>";

describe("llama_main's PyTorchObserver stats line", () => {
  it("reads ExecuTorch 1.4.1's line, printed rates included, and derives the record's metrics from its timestamps", async () => {
    const s = parseStats(await fixture("executorch-1.4.1-text-llm-runner-max-new-tokens.stdout"));
    expect(s).toMatchObject({
      promptTokens: 10,
      generatedTokens: 23,
      printedPrefillTokensPerSec: 833.333,
      printedDecodeTokensPerSec: 1533.33,
      unitsPerSecond: 1000,
      extra: {},
    });
    const t = generationTimes(s);
    expect(t.prefillMs).toEqual({ value: 12 });
    expect(t.decodeMs).toEqual({ value: 15 });
    expect(t.firstTokenMs).toEqual({ value: 12 });
    expect(t.modelLoadMs).toEqual({ value: 11 });
    // 23 tokens in 15 ms: exact from the timestamps, where the printed rate is rounded to 1533.33.
    expect(rate(t.generatedTokens, t.decodeMs, t.printedDecodeTokensPerSec, "decode")).toEqual({
      value: (23 * 1000) / 15,
    });
  });

  it("reads a phone's line without the rate keys (ExecuTorch before 1.0) and computes the rates itself", async () => {
    const t = generationTimes(
      parseStats(await fixture("arm-learning-path-llama3.2-1b-pixel8pro-merged.log")),
    );
    expect(t).toMatchObject({
      promptTokens: 54,
      generatedTokens: 36,
      printedPrefillTokensPerSec: null,
      printedDecodeTokensPerSec: null,
      modelLoadMs: { value: 900 },
      prefillMs: { value: 130 },
      decodeMs: { value: 679 },
      firstTokenMs: { value: 130 },
    });
    // The runner's own report in the same log: "Generated 36 tokens: 0.679000 (seconds) Rate: 53.019146".
    const decode = rate(t.generatedTokens, t.decodeMs, null, "decode");
    expect("value" in decode && decode.value).toBeCloseTo(53.019146, 5);
  });

  it("says the model load was not timed when a multimodal runner prints 0 for both load timestamps", async () => {
    const t = generationTimes(parseStats(await fixture("executorch-v1.4.1-voxtral-readme.txt")));
    expect(t.modelLoadMs).toEqual({
      missing: "the runner did not time the model load (model_load_start_ms and model_load_end_ms are 0)",
    });
    expect(t).toMatchObject({ promptTokens: 388, generatedTokens: 99, decodeMs: { value: 11167 } });
  });

  it("keeps keys it does not know (1.4.1's GPU memory fields) and tolerates missing optional ones", () => {
    // stats.h 1.4.1 prints gpu_* only when gpu_total_bytes is set, and the rate keys only for positive spans.
    const line =
      'PyTorchObserver {"prompt_tokens":14,"generated_tokens":54,"inference_start_ms":10,"inference_end_ms":1199,' +
      '"prompt_eval_end_ms":174,"gpu_total_bytes":8589934592,"gpu_peak_usage_mb":1830.5,"SCALING_FACTOR_UNITS_PER_SECOND":1000}\n';
    const s = parseStats(line);
    expect(s.extra).toEqual({ gpu_total_bytes: 8589934592, gpu_peak_usage_mb: 1830.5 });
    const t = generationTimes(s);
    expect(t.modelLoadMs).toEqual({ missing: "the runner printed no model load timestamps" });
    expect(t.firstTokenMs).toEqual({ missing: "the runner printed no first-token timestamps" });
    expect(t.decodeMs).toEqual({ value: 1025 });
  });

  it("scales timestamps by SCALING_FACTOR_UNITS_PER_SECOND", () => {
    const t = generationTimes(
      parseStats(
        'PyTorchObserver {"prompt_tokens":4,"generated_tokens":8,"inference_start_ms":0,"prompt_eval_end_ms":500,' +
          '"inference_end_ms":2500,"SCALING_FACTOR_UNITS_PER_SECOND":1000000}',
      ),
    );
    expect(t.prefillMs).toEqual({ value: 0.5 });
    expect(t.decodeMs).toEqual({ value: 2 });
  });

  it("calls a 0 ms span too fast to measure, unless the runner printed the rate", () => {
    expect(rate(5, { value: 0 }, null, "decode")).toEqual({
      missing: "decode took 0 ms at the runner's millisecond resolution: too fast to measure",
    });
    expect(rate(5, { value: 0 }, 2600, "decode")).toEqual({ value: 2600 });
  });

  it("uses the last stats line when a run printed more than one", () => {
    const two =
      'PyTorchObserver {"prompt_tokens":1,"generated_tokens":1}\ntext\nPyTorchObserver {"prompt_tokens":2,"generated_tokens":3}\n';
    expect(findStatsJson(two)).toBe('{"prompt_tokens":2,"generated_tokens":3}');
    expect(parseStats(two).generatedTokens).toBe(3);
  });

  it.each([
    ["no stats line", "Once upon a time there was\n", /no `PyTorchObserver \{\.\.\.\}` line/],
    ["a truncated line", 'PyTorchObserver {"prompt_tokens":5,"gener', /not JSON/],
    ["a line without token counts", 'PyTorchObserver {"inference_start_ms":1}', /prompt_tokens is undefined/],
    ["a negative count", 'PyTorchObserver {"prompt_tokens":-1,"generated_tokens":2}', /prompt_tokens is -1/],
  ])("refuses %s with a StatsLineError that says what is wrong", (_what, text, message) => {
    expect(() => parseStats(text)).toThrow(StatsLineError);
    expect(() => parseStats(text)).toThrow(message);
  });
});

describe("llama_main's generated text", () => {
  it("is what follows the echoed prompt, up to the newline printed after max_new_tokens (ExecuTorch 1.4.1)", async () => {
    const out = await fixture("executorch-1.4.1-text-llm-runner-max-new-tokens.stdout");
    expect(generatedText(out, "The capital of France is", { echo: true, stoppedEarly: false }).text).toBe(
      " Paris . Paris lies on the Seine and is known for bread and cheese . People in Paris like",
    );
  });

  it("keeps the end-of-sequence piece and drops the extra newline printed at end of sequence", async () => {
    const out = await fixture("executorch-1.4.1-text-llm-runner-eos.stdout");
    const { text } = generatedText(out, "The capital of France is", { echo: true, stoppedEarly: true });
    expect(text.endsWith(" in the evening when the air is cool .</s>")).toBe(true);
  });

  it("cuts the runner's log lines out of a merged adb capture, even where they split the text mid-line", async () => {
    const out = await fixture("arm-learning-path-llama3.2-1b-pixel8pro-merged.log");
    const { text } = generatedText(out, COOKIE_PROMPT, { echo: true, stoppedEarly: true });
    expect(text).toBe(
      "\n\nI'm doing great, thanks for asking! I'm always ready to help, whether it's answering a question or " +
        "providing a solution. What can I help you with today?<|eot_id|>",
    );
  });

  it("reads the older runner's merged log (ExecuTorch's runner.cpp era) down to the response", async () => {
    const out = await fixture("arm-learning-path-6df65f7-llama-runner-merged.log");
    const { text } = generatedText(out, COOKIE_PROMPT, { echo: true, stoppedEarly: true });
    expect(text).toContain("I'm doing great, thanks! I'm always happy to help");
    expect(text).toContain("What can I help you with today?<|eot_id|>");
    expect(text).not.toMatch(/executorch:|RSS after|Reached to the end/);
  });

  it("reads the Vulkan tutorial's sample from a Galaxy S24, with its tokenizer warning on top", async () => {
    const out = await fixture("executorch-v1.4.1-etvk-llama-tutorial-galaxy-s24.txt");
    const prompt =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>Write me a short poem.<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>";
    const { text } = generatedText(out, prompt, { echo: true, stoppedEarly: true });
    expect(text.startsWith("\n\nHere is a short poem I came up with:\n\n")).toBe(true);
    expect(text.endsWith("I hope you enjoy it!<|eot_id|>")).toBe(true);
  });

  it("strips each log format: POSIX ET_LOG, the tokenizers library, and the Python binding's [file:line]", () => {
    const merged =
      "I tokenizers:regex.cpp:27] Registering override fallback regex\n" +
      "[text_llm_runner.cpp:90] RSS after loading model: 243.242188 MiB (0 if unsupported)\n" +
      "Hello wI 00:00:01.292740 executorch:text_prefiller.cpp:93] Prefill token result numel(): 512\norld\n";
    expect(stripRunnerLogs(merged)).toBe("Hello world\n");
  });

  it("refuses output without the prompt echo or without the closing newline, rather than guessing", () => {
    expect(() =>
      generatedText('Bonjour\nPyTorchObserver {"prompt_tokens":1,"generated_tokens":1}\n', "Hello", {
        echo: true,
        stoppedEarly: false,
      }),
    ).toThrow(/does not echo the prompt/);
    expect(() =>
      generatedText('Hello there PyTorchObserver {"prompt_tokens":1,"generated_tokens":1}\n', "Hello", {
        echo: true,
        stoppedEarly: false,
      }),
    ).toThrow(/does not end with the newline/);
  });

  it("finds the RSS the runner logged after load, prefill and generation, in either log format", async () => {
    expect(reportedRssMib(await fixture("arm-learning-path-llama3.2-1b-pixel8pro-merged.log"))).toEqual([
      1122.1875, 1122.1875, 1122.1875,
    ]);
    expect(reportedRssMib(await fixture("executorch-1.4.1-text-llm-runner-eos.stderr")).length).toBe(3);
  });
});
