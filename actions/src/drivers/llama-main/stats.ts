/**
 * The `PyTorchObserver {json}` line ExecuTorch's LLM runners print after a generation
 * (extension/llm/runner/stats.h, `print_report`), and the run record's metrics derived from it.
 *
 * The JSON's keys have changed across releases and runners, so only `prompt_tokens` and
 * `generated_tokens` are required. ExecuTorch 1.4.1 adds `prefill_token_per_sec` and
 * `decode_token_per_sec` only when their durations are positive and the `gpu_*` keys only on GPU
 * backends; multimodal runners leave `model_load_*_ms` at 0. Rates are recomputed from the
 * timestamps (the printed rates are rounded to 6 significant digits) and fall back to the printed
 * ones; unknown keys are kept as `extra`.
 *
 * What the numbers mean (stats.h): timestamps are in units of 1/SCALING_FACTOR_UNITS_PER_SECOND s
 * (ms). Prefill is `prompt_eval_end - inference_start` and includes encoding the prompt; decode is
 * `inference_end - prompt_eval_end` for `generated_tokens`, which counts the tokens after the one
 * prefill produced — the same split the Python runtime's stage measures.
 */

/** The parsed line; null where the runner did not print the key. */
export interface RunnerStats {
  promptTokens: number;
  generatedTokens: number;
  modelLoadStartMs: number | null;
  modelLoadEndMs: number | null;
  inferenceStartMs: number | null;
  inferenceEndMs: number | null;
  promptEvalEndMs: number | null;
  firstTokenMs: number | null;
  aggregateSamplingTimeMs: number | null;
  /** The rates the runner printed (ExecuTorch ≥ 1.0), rounded by the runner. */
  printedPrefillTokensPerSec: number | null;
  printedDecodeTokensPerSec: number | null;
  /** Units per second of the timestamps (1000: milliseconds). */
  unitsPerSecond: number;
  /** Keys this parser does not know (e.g. `gpu_total_bytes`), as printed. */
  extra: Record<string, unknown>;
}

export class StatsLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatsLineError";
  }
}

const MARKER = "PyTorchObserver ";

const KNOWN = new Set([
  "prompt_tokens",
  "generated_tokens",
  "model_load_start_ms",
  "model_load_end_ms",
  "inference_start_ms",
  "inference_end_ms",
  "prompt_eval_end_ms",
  "first_token_ms",
  "aggregate_sampling_time_ms",
  "prefill_token_per_sec",
  "decode_token_per_sec",
  "SCALING_FACTOR_UNITS_PER_SECOND",
]);

/** The JSON text of the last `PyTorchObserver {...}` line in `output`, or null when there is none. */
export function findStatsJson(output: string): string | null {
  const at = output.lastIndexOf(MARKER);
  if (at < 0) return null;
  const end = output.indexOf("\n", at);
  return output.slice(at + MARKER.length, end < 0 ? undefined : end).trim();
}

function count(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new StatsLineError(`PyTorchObserver: ${key} is ${JSON.stringify(v)}, expected a token count`);
  }
  return v;
}

function optionalNumber(o: Record<string, unknown>, key: string): number | null {
  const v = o[key];
  if (v === undefined) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new StatsLineError(`PyTorchObserver: ${key} is ${JSON.stringify(v)}, expected a number`);
  }
  return v;
}

/** Parses the last stats line of a runner's output; a missing or malformed line is a StatsLineError. */
export function parseStats(output: string): RunnerStats {
  const json = findStatsJson(output);
  if (json === null) throw new StatsLineError("no `PyTorchObserver {...}` line in the runner's output");
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new StatsLineError(`PyTorchObserver: not JSON (${(err as Error).message}): ${json.slice(0, 200)}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new StatsLineError(`PyTorchObserver: expected a JSON object, got ${json.slice(0, 200)}`);
  }
  const o = raw as Record<string, unknown>;
  const scale = optionalNumber(o, "SCALING_FACTOR_UNITS_PER_SECOND") ?? 1000;
  if (scale <= 0) throw new StatsLineError(`PyTorchObserver: SCALING_FACTOR_UNITS_PER_SECOND is ${scale}`);
  const toMs = (key: string) => {
    const v = optionalNumber(o, key);
    return v === null ? null : (v * 1000) / scale;
  };
  return {
    promptTokens: count(o, "prompt_tokens"),
    generatedTokens: count(o, "generated_tokens"),
    modelLoadStartMs: toMs("model_load_start_ms"),
    modelLoadEndMs: toMs("model_load_end_ms"),
    inferenceStartMs: toMs("inference_start_ms"),
    inferenceEndMs: toMs("inference_end_ms"),
    promptEvalEndMs: toMs("prompt_eval_end_ms"),
    firstTokenMs: toMs("first_token_ms"),
    aggregateSamplingTimeMs: toMs("aggregate_sampling_time_ms"),
    printedPrefillTokensPerSec: optionalNumber(o, "prefill_token_per_sec"),
    printedDecodeTokensPerSec: optionalNumber(o, "decode_token_per_sec"),
    unitsPerSecond: scale,
    extra: Object.fromEntries(Object.entries(o).filter(([k]) => !KNOWN.has(k))),
  };
}

/** A value for the run record, or why there is none. */
export type Measured = { value: number } | { missing: string };

function span(from: number | null, to: number | null, what: string): { ms: number } | { missing: string } {
  if (from === null || to === null) return { missing: `the runner printed no ${what} timestamps` };
  const ms = to - from;
  if (ms < 0) return { missing: `the runner's ${what} timestamps run backwards (${from} → ${to})` };
  return { ms };
}

/** The per-generation values behind the run record's metrics, each with why it is missing. */
export interface GenerationTimes {
  promptTokens: number;
  generatedTokens: number;
  prefillMs: Measured;
  decodeMs: Measured;
  firstTokenMs: Measured;
  modelLoadMs: Measured;
  /** Used when the timestamps are absent but the runner printed the rate. */
  printedPrefillTokensPerSec: number | null;
  printedDecodeTokensPerSec: number | null;
}

function measured(s: { ms: number } | { missing: string }): Measured {
  return "ms" in s ? { value: s.ms } : s;
}

export function generationTimes(s: RunnerStats): GenerationTimes {
  const load = span(s.modelLoadStartMs, s.modelLoadEndMs, "model load");
  return {
    promptTokens: s.promptTokens,
    generatedTokens: s.generatedTokens,
    prefillMs: measured(span(s.inferenceStartMs, s.promptEvalEndMs, "prefill")),
    decodeMs: measured(span(s.promptEvalEndMs, s.inferenceEndMs, "decode")),
    firstTokenMs: measured(span(s.inferenceStartMs, s.firstTokenMs, "first-token")),
    // Multimodal runners, and runners that load before generate() starts timing, print 0 for both.
    modelLoadMs:
      s.modelLoadStartMs === 0 && s.modelLoadEndMs === 0
        ? {
            missing:
              "the runner did not time the model load (model_load_start_ms and model_load_end_ms are 0)",
          }
        : measured(load),
    printedPrefillTokensPerSec: s.printedPrefillTokensPerSec,
    printedDecodeTokensPerSec: s.printedDecodeTokensPerSec,
  };
}

/** `tokens / ms` as tokens per second; a 0 ms span is too fast for the runner's clock, not infinitely fast. */
export function rate(tokens: number, ms: Measured, printed: number | null, what: string): Measured {
  if ("value" in ms) {
    if (ms.value > 0) return { value: (tokens * 1000) / ms.value };
    return printed !== null
      ? { value: printed }
      : { missing: `${what} took 0 ms at the runner's millisecond resolution: too fast to measure` };
  }
  return printed !== null ? { value: printed } : ms;
}
