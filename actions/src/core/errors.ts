/**
 * The error classes that decide an exit code. Library code throws these and never exits; the
 * CLI's `main` is the one place per process that turns them into exit codes (see `EXIT`).
 */

/** Process exit codes, shared by every command (DESIGN.md). */
export const EXIT = {
  ok: 0,
  /** A gate or regression verdict failed, or a stage failed (the model or toolchain broke). */
  failed: 1,
  /** Bad input or usage: the user has something to fix. */
  usage: 2,
  /** Infrastructure: the machine, a timeout, or a broken contract between our own parts. */
  infra: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * "Your input is wrong": the message must say what to fix (which file, which field, the allowed
 * values). Always exit 2.
 */
export class ConfigurationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigurationError";
  }
}

/**
 * "The machine or our own plumbing broke", not the user's input and not the model: a stage that
 * broke its contract, a cache that cannot be written, a missing interpreter. Always exit 3.
 */
export class InfrastructureError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InfrastructureError";
  }
}
