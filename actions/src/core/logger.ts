/**
 * The logger domain code writes to. It is passed in (never a global), so the same code runs in
 * the CLI, in an action, and in tests with a {@link RecordingLogger}.
 */
export interface Logger {
  /** Progress and results meant for the person running the command. */
  info(message: string): void;
  /** Something worth noticing that does not stop the run. */
  warn(message: string): void;
  /** A failure the run reports (it may still continue with other cells). */
  error(message: string): void;
}

/** info → stdout, warn/error → stderr, so `pte-farm run > table.txt` keeps the progress visible. */
export const consoleLogger: Logger = {
  info: (m) => process.stdout.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m) => process.stderr.write(`error: ${m}\n`),
};

/** Keeps every line in memory, for tests that assert on what a user would have seen. */
export class RecordingLogger implements Logger {
  readonly lines: { level: "info" | "warn" | "error"; message: string }[] = [];
  info(message: string): void {
    this.lines.push({ level: "info", message });
  }
  warn(message: string): void {
    this.lines.push({ level: "warn", message });
  }
  error(message: string): void {
    this.lines.push({ level: "error", message });
  }
  /** Everything logged, one message per line, for `toContain`/`toMatch` assertions. */
  text(): string {
    return this.lines.map((l) => l.message).join("\n");
  }
}

/** Discards everything (for benchmarks and nested calls that report through their return value). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
