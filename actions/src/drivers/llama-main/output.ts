/**
 * The generated text in `llama_main`'s output, as far as the runner prints it. It prints no token
 * ids: TextLLMRunner::generate (extension/llm/runner/text_llm_runner.cpp, ExecuTorch 1.4.1)
 * echoes the prompt, prints each decoded piece as it is sampled (the end-of-sequence piece too),
 * then one "\n"; stopping at an end-of-sequence token prints one more "\n" before that
 * (text_token_generator.h); then `PyTorchObserver {...}`. Runner logs go to stderr, but captures
 * that merged the two streams (adb shell, docs) carry log lines, sometimes spliced mid-line into
 * the text; those are cut out here.
 */

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputError";
  }
}

/**
 * ET_LOG lines of the POSIX platform layer (`I 00:00:02.394162 executorch:file.cpp:93] message`),
 * the tokenizers library's (`I tokenizers:regex.cpp:27] message`) and of builds whose log layer
 * prints `[file.cpp:93] message`; each to the end of its line. The first two can start mid-line,
 * where the runner printed text without a newline before the log line arrived.
 */
const LOG_LINE = [
  /[IWEDF] \d{2}:\d{2}:\d{2}\.\d+ executorch:[^\]\n]*\][^\n]*(\n|$)/g,
  /[IWEDF] tokenizers:[^\]\n]*\][^\n]*(\n|$)/g,
  /^\[[\w.-]+\.(?:cpp|h|cc):\d+\][^\n]*(\n|$)/gm,
];
/** The end-of-generation log message starts with a newline, so its text lands on a line of its own. */
const EOS_MESSAGE = /^Reached to the end of generation\n/gm;

/** Removes runner log lines from a merged stdout+stderr capture. */
export function stripRunnerLogs(text: string): string {
  let out = text;
  for (const re of LOG_LINE) out = out.replace(re, "");
  return out.replace(EOS_MESSAGE, "");
}

export interface GeneratedText {
  /** The continuation: every piece the runner printed after the prompt, the end-of-sequence piece included. */
  text: string;
}

/**
 * The continuation of `prompt` in a runner's output. `stoppedEarly` (fewer tokens than asked for:
 * an end-of-sequence token, or the context's end) decides whether the extra newline the runner
 * prints at end of sequence is removed.
 */
export function generatedText(
  output: string,
  prompt: string,
  opts: { echo: boolean; stoppedEarly: boolean },
): GeneratedText {
  const normalized = output.replaceAll("\r\n", "\n");
  const at = normalized.lastIndexOf("PyTorchObserver ");
  if (at < 0) throw new OutputError("no `PyTorchObserver {...}` line: the generation did not finish");
  let text = stripRunnerLogs(normalized.slice(0, at));
  if (opts.echo) {
    const start = text.indexOf(prompt);
    if (start < 0) {
      throw new OutputError(
        `the runner's output does not echo the prompt ${JSON.stringify(prompt.slice(0, 80))}; cannot tell the generated text from it`,
      );
    }
    text = text.slice(start + prompt.length);
  }
  if (!text.endsWith("\n")) {
    throw new OutputError(
      "the generated text does not end with the newline the runner prints after generating",
    );
  }
  text = text.slice(0, -1);
  if (opts.stoppedEarly && text.endsWith("\n")) text = text.slice(0, -1);
  return { text };
}

/** `RSS after loading model: 1122.187500 MiB (0 if unsupported)` and its siblings, in MiB. */
export function reportedRssMib(log: string): number[] {
  return [...log.matchAll(/RSS after [^:\n]*: ([\d.]+) MiB/g)]
    .map((m) => Number(m[1]))
    .filter(Number.isFinite);
}
