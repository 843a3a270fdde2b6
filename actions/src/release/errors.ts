/**
 * The two ways a release stops. A blocked release is a verdict (a cell failed its gate, exit 1),
 * not a machine problem; a file that does not verify is infrastructure (exit 3): the bytes were
 * damaged or swapped somewhere between the build and the reader, and nothing about the model or
 * the user's input explains it.
 */
import { EXIT, InfrastructureError } from "../core/errors.ts";

/** One cell that keeps a release from being published, and why, for the person reading the log. */
export interface BlockingCell {
  /** The cell id, or the artefact file for a problem that belongs to no known cell. */
  cell: string;
  reason: string;
}

/** Thrown when any planned cell may not be released; lists every such cell, not just the first. */
export class ReleaseBlockedError extends Error {
  readonly exitCode = EXIT.failed;
  readonly blocked: readonly BlockingCell[];

  constructor(blocked: readonly BlockingCell[]) {
    const lines = blocked.map((b) => `- ${b.cell}: ${b.reason}`);
    super(
      `release blocked: ${blocked.length} cell${blocked.length === 1 ? "" : "s"} may not be published\n${lines.join("\n")}`,
    );
    this.name = "ReleaseBlockedError";
    this.blocked = blocked;
  }
}

/** A downloaded file that is not the one the release manifest describes. */
export class VerificationError extends InfrastructureError {
  readonly exitCode = EXIT.infra;
  /** The file (asset name) that failed. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}; do not use this file`);
    this.name = "VerificationError";
    this.file = file;
  }
}
