/**
 * The `llama-main` driver: ExecuTorch's C++ LLM runner (examples/models/llama/main.cpp, built as
 * `llama_main`), one process per prompt and rep, greedy:
 *
 *   llama_main --model_path=M.pte --tokenizer_path=tokenizer.json --prompt=P
 *              --max_new_tokens=N --temperature=0 --num_bos=B
 *
 * Each process loads the `.pte` (so model_load_ms is measured every time), generates and prints
 * its `PyTorchObserver` stats (stats.ts). The reference's prompt ids are not passed (the runner
 * takes text); its tokenizer must split the prompt into as many tokens as the reference's, BOS
 * included (`--num_bos` is 1 when the reference starts with the model's BOS id). The generated ids
 * are recovered from the printed text (token-ids.ts) and must number exactly what the runner says
 * it generated.
 *
 * Outcomes: a runner that cannot start, is killed by SIGKILL (the OOM killer) or breaks its output
 * contract is infrastructure; one that exits non-zero or crashes (SIGSEGV, SIGABRT) failed on this
 * model — a stage failure; the step's budget running out is a timeout.
 */

import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { cancelledReason, runCancelled } from "../../core/cancel.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { runnableCell } from "../../pipeline/runnable-cell.ts";
import { cooldownFor } from "../../pipeline/stage-specs.ts";
import type { RepTelemetry } from "../../schemas/stage.ts";
import { type DriverRequest, type DriverRun, type ExecuteDriver, nativeToolchain } from "../driver.ts";
import { DriverFailure, type NativeContext, runNativeStep } from "../native-step.ts";
import { type ProcessResult, runProcess } from "../process.ts";
import { MetricCollector, type Value } from "../rep-metrics.ts";
import { coolDown, repReading } from "../rep-telemetry.ts";
import { generatedText, OutputError, reportedRssMib } from "./output.ts";
import { type GenerationTimes, generationTimes, parseStats, rate, StatsLineError } from "./stats.ts";
import { encodeTexts, TokenIdsError } from "./token-ids.ts";

/** The environment variable provisioning sets to the runner's path (runners/). */
export const LLAMA_MAIN_ENV = "PTE_FARM_LLAMA_MAIN";

interface Generation {
  times: GenerationTimes;
  text: string;
  rssMib: number[];
}

async function bosTokenId(modelDir: string): Promise<number | null> {
  for (const file of ["config.json", "generation_config.json"]) {
    const text = await readFile(path.join(modelDir, file), "utf8").catch(() => null);
    if (text === null) continue;
    const id = (JSON.parse(text) as { bos_token_id?: unknown }).bos_token_id;
    if (typeof id === "number") return id;
  }
  return null;
}

function lastErrorLine(p: ProcessResult): string {
  const lines = `${p.stderr}\n${p.stdout}`.split("\n").filter((l) => l.trim() !== "");
  const error = [...lines].reverse().find((l) => /^[EF][ [0-9]|error|failed/i.test(l));
  return (error ?? lines.at(-1) ?? "no output").trim().slice(0, 300);
}

async function generateOnce(
  ctx: NativeContext,
  argv: string[],
  prompt: string,
  expectedPromptTokens: number,
  limit: number,
): Promise<Generation> {
  const cancel = ctx.req.cancel ?? runCancelled;
  const p = await runProcess(argv, { cwd: ctx.req.dir, deadline: ctx.deadline, log: ctx.logFile, cancel });
  const runner = argv[0];
  if (p.cancelled) {
    throw new DriverFailure(
      "infra-failure",
      cancelledReason(cancel, "llama_main's process group was killed"),
      {
        process: p,
      },
    );
  }
  if (p.spawnError !== null) {
    throw new DriverFailure(
      "infra-failure",
      `could not start ${runner} (${p.spawnError}); set the execute action's runner input or ${LLAMA_MAIN_ENV}`,
      { process: p },
    );
  }
  if (p.timedOut) {
    throw new DriverFailure(
      "timeout",
      `llama_main did not finish within the step's ${ctx.req.timeoutS} s; its process group was killed`,
      { process: p, hint: "raise timeout-s if the model is this slow here" },
    );
  }
  if (p.signal === "SIGKILL") {
    throw new DriverFailure(
      "infra-failure",
      "llama_main was killed by SIGKILL, which pte-farm did not send (out of memory? the OOM killer sends SIGKILL)",
      { process: p },
    );
  }
  if (p.signal !== null) {
    throw new DriverFailure("stage-failure", `llama_main crashed with ${p.signal}: ${lastErrorLine(p)}`, {
      process: p,
    });
  }
  if (p.exitCode !== 0) {
    throw new DriverFailure("stage-failure", `llama_main exited ${p.exitCode}: ${lastErrorLine(p)}`, {
      process: p,
    });
  }
  let times: GenerationTimes;
  let text: string;
  try {
    times = generationTimes(parseStats(p.stdout));
    if (times.promptTokens !== expectedPromptTokens) {
      throw new DriverFailure(
        "stage-failure",
        `llama_main's tokenizer split the prompt ${JSON.stringify(prompt.slice(0, 60))} into ${times.promptTokens} ` +
          `tokens, the reference's into ${expectedPromptTokens}: the runner would not see what the reference saw`,
        { process: p, hint: "check the tokenizer file and the BOS handling (--num_bos)" },
      );
    }
    ({ text } = generatedText(p.stdout, prompt, {
      echo: true,
      stoppedEarly: times.generatedTokens + 1 < limit,
    }));
  } catch (err) {
    if (err instanceof StatsLineError || err instanceof OutputError) {
      throw new DriverFailure(
        "infra-failure",
        `llama_main's output breaks what pte-farm reads: ${err.message}`,
        {
          process: p,
          hint: "is the runner ExecuTorch's llama_main (extension/llm/runner)?",
        },
      );
    }
    throw err;
  }
  return { times, text, rssMib: reportedRssMib(`${p.stderr}\n${p.stdout}`) };
}

/** Tokens over milliseconds, summed over a rep's prompts (as the Python runtime sums them). */
function aggregateRate(gens: readonly Generation[], which: "prefill" | "decode"): Value {
  let tokens = 0;
  let ms = 0;
  for (const g of gens) {
    const t = which === "prefill" ? g.times.promptTokens : g.times.generatedTokens;
    const span = which === "prefill" ? g.times.prefillMs : g.times.decodeMs;
    const printed =
      which === "prefill" ? g.times.printedPrefillTokensPerSec : g.times.printedDecodeTokensPerSec;
    const r = rate(t, span, printed, which);
    if ("missing" in r) return r;
    tokens += t;
    ms += "value" in span && span.value > 0 ? span.value : (t * 1000) / r.value;
  }
  return ms > 0 ? { value: (tokens * 1000) / ms } : { missing: `${which} took 0 ms` };
}

function mean(values: readonly Value[]): Value {
  const missing = values.find((v): v is { missing: string } => "missing" in v);
  if (missing !== undefined) return missing;
  const nums = values.map((v) => (v as { value: number }).value);
  return { value: nums.reduce((a, b) => a + b, 0) / nums.length };
}

async function runLlamaMain(req: DriverRequest): Promise<DriverRun> {
  const model = runnableCell(req.cell).model;
  const prompts = model.prompts;
  if (prompts.length !== req.promptIds.length) {
    throw new ConfigurationError(
      `the reference has ${req.promptIds.length} prompts, model ${model.name} in the matrix has ${prompts.length}: ` +
        "pass the reference built for this cell",
    );
  }
  const runner = req.settings.runner || process.env[LLAMA_MAIN_ENV] || "llama_main";
  const tokenizer = req.settings.tokenizer || path.join(model.path, "tokenizer.json");
  const bos = await bosTokenId(model.path);
  const numBos = (ids: readonly number[]) => (bos !== null && ids[0] === bos ? 1 : 0);
  const argvFor = (i: number) => [
    runner,
    `--model_path=${req.pte}`,
    `--tokenizer_path=${tokenizer}`,
    `--prompt=${prompts[i]}`,
    `--max_new_tokens=${model.max_new_tokens}`,
    "--temperature=0",
    `--num_bos=${numBos(req.promptIds[i] ?? [])}`,
  ];
  const spec = {
    driver: "llama-main",
    runner,
    toolchain: nativeToolchain(req.settings, runner),
    plan: { tokenizer, commands: prompts.map((_, i) => argvFor(i)) },
  };
  return runNativeStep(req, spec, async (ctx) => {
    const collect = new MetricCollector();
    const telemetry: RepTelemetry[] = [];
    let first: string[] | null = null;
    let lastCounts: number[] = [];
    const total = req.warmup + req.reps;
    for (let rep = 0; rep < total; rep++) {
      const measured = rep >= req.warmup;
      const index = measured ? rep - req.warmup : -(rep + 1);
      const { waitedS, hot } = await coolDown(cooldownFor(req.cell.device).cooldown, req.logger);
      const before = { ...(await repReading(index, "before")), cooldown_wait_s: waitedS };
      const gens: Generation[] = [];
      for (let i = 0; i < prompts.length; i++) {
        const ids = req.promptIds[i] ?? [];
        const limit = Math.min(model.max_new_tokens, model.max_seq_len - ids.length);
        gens.push(await generateOnce(ctx, argvFor(i), prompts[i] ?? "", ids.length, limit));
      }
      const after = await repReading(index, "after");
      const texts = gens.map((g) => g.text);
      if (first === null) first = texts;
      else if (texts.some((t, i) => t !== first?.[i])) {
        throw new DriverFailure(
          "stage-failure",
          `${path.basename(req.pte)}: a rep generated different text than the first: not deterministic at temperature 0`,
        );
      }
      lastCounts = gens.map((g) => g.times.generatedTokens + 1);
      if (!measured) continue;
      telemetry.push(before, after);
      const flags = hot ? ["hot"] : [];
      collect.add("decode_tokens_per_sec", "tok/s", "higher", aggregateRate(gens, "decode"), flags);
      collect.add("prefill_tokens_per_sec", "tok/s", "higher", aggregateRate(gens, "prefill"), flags);
      collect.add("first_token_ms", "ms", "lower", mean(gens.map((g) => g.times.firstTokenMs)), flags);
      collect.add("model_load_ms", "ms", "lower", mean(gens.map((g) => g.times.modelLoadMs)), flags);
      const rss = Math.max(0, ...gens.flatMap((g) => g.rssMib));
      collect.add(
        "peak_rss_mb",
        "MB",
        "lower",
        rss > 0
          ? { value: rss }
          : {
              missing:
                "llama_main logged no RSS (it does with EXECUTORCH_ENABLE_LOGGING, and logs 0 where unsupported)",
            },
        flags,
      );
    }
    collect.add("pte_bytes", "B", "lower", { value: (await stat(req.pte)).size });
    collect.note(
      "decode_tokens_per_sec",
      "llama_main's own millisecond timestamps: generated_tokens (after the prefill's token) over inference_end - prompt_eval_end, summed over prompts",
    );
    collect.note(
      "prefill_tokens_per_sec",
      "llama_main's own millisecond timestamps: prompt_tokens over prompt_eval_end - inference_start, which includes encoding the prompt",
    );
    collect.note("first_token_ms", "llama_main's first_token_ms - inference_start_ms, averaged over prompts");
    collect.note(
      "model_load_ms",
      "each llama_main process (one per prompt) loads the .pte; averaged over prompts",
    );
    collect.note(
      "peak_rss_mb",
      "the largest RSS (MiB) llama_main logged after load, prefill and generation: a lower bound on the process's peak",
    );

    let encoded: Awaited<ReturnType<typeof encodeTexts>>;
    try {
      encoded = await encodeTexts(req.python, model.path, first ?? []);
    } catch (err) {
      if (err instanceof TokenIdsError) throw new DriverFailure("infra-failure", err.message);
      throw err;
    }
    encoded.forEach((e, i) => {
      if (e.ids.length !== lastCounts[i]) {
        throw new DriverFailure(
          "infra-failure",
          `cannot recover the token ids of prompt ${i}: the model's tokenizer encodes llama_main's text into ` +
            `${e.ids.length} tokens, llama_main generated ${lastCounts[i]}; the gate would compare the wrong ids`,
          { hint: "the tokenizer's decode does not round-trip this text; compare by hand in stage.log" },
        );
      }
    });
    const { metrics, unavailable, notes } = collect.finish();
    return {
      data: {
        prompts: req.promptIds.map((ids, i) => ({
          prompt_ids: ids,
          ids: encoded[i]?.ids ?? [],
          pieces: encoded[i]?.pieces ?? [],
        })),
        reps: req.reps,
        warmup: req.warmup,
        metrics,
        telemetry,
        driver: {
          name: "llama-main",
          unavailable,
          notes,
          details: {
            runner,
            tokenizer,
            ids: "recovered by encoding the printed text with the model's tokenizer; counts match llama_main's",
          },
        },
      },
    };
  });
}

export const llamaMainDriver: ExecuteDriver = {
  name: "llama-main",
  describe: "ExecuTorch's C++ LLM runner, llama_main (examples/models/llama/main.cpp)",
  interleaves: false,
  execute: runLlamaMain,
};
