/**
 * The thin layer between @actions/core and an action's logic: inputs and outputs by the names in
 * io-table.ts (typed, so a misspelt name does not compile), a Logger over the workflow log, and
 * the one place per action where an error becomes a failed step.
 *
 * Failure, as in the CLI's `main`: a ConfigurationError says the step's input is wrong and exits 2;
 * a stage failure carries the runner's message (stage, upstream package and version) and exits 1,
 * 2 or 3 by how the stage ended; an InfrastructureError exits 3; anything else is our bug (exit 3,
 * with its stack). GitHub fails the step on any non-zero exit; the code tells a person which kind.
 */

import path from "node:path";
import * as core from "@actions/core";
import { noSpaceMessage } from "../core/disk.ts";
import { ConfigurationError, EXIT, type ExitCode, InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { StageFailedError } from "../pipeline/stage-job.ts";
import { ACTIONS, type ActionName, type InputName, type InputSpec, type OutputName } from "./io-table.ts";

/**
 * A verdict that fails the step after its outputs are set: a failed gate or a regression (exit 1),
 * or a record whose status says infrastructure (exit 3), as the CLI would exit for it.
 */
export class VerdictFailure extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.failed) {
    super(message);
    this.name = "VerdictFailure";
    this.exitCode = exitCode;
  }
}

export interface ActionIO<A extends ActionName> {
  /** The input, trimmed; the action.yml default when the runner passed none. */
  input(name: InputName<A>): string;
  /** Like {@link input}, but empty is a ConfigurationError naming the input. */
  required(name: InputName<A>): string;
  /** A path input resolved against the workspace; empty stays empty. */
  path(name: InputName<A>): string;
  /** Like {@link path}, but empty is a ConfigurationError naming the input. */
  requiredPath(name: InputName<A>): string;
  int(name: InputName<A>, min: number): number;
  bool(name: InputName<A>): boolean;
  oneOf<const T extends string>(name: InputName<A>, allowed: readonly T[]): T;
  json(name: InputName<A>): unknown;
  output(name: OutputName<A>, value: string | number | boolean | object): void;
  /** Appends markdown to the job summary (a no-op outside a runner, where there is no summary file). */
  summary(markdown: string): Promise<void>;
  logger: Logger;
  /** GITHUB_WORKSPACE, else the current folder: where relative path inputs point. */
  workspace: string;
}

export const actionLogger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  error: (m) => core.error(m),
};

function makeIO<A extends ActionName>(action: A): ActionIO<A> {
  const specs = ACTIONS[action].inputs as Record<string, InputSpec>;
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const input = (name: string): string => {
    const spec = specs[name];
    if (spec === undefined) throw new Error(`bug: action ${action} has no input ${name}`);
    return core.getInput(name).trim() || spec.default || "";
  };
  const required = (name: string): string => {
    const v = input(name);
    if (v === "") {
      throw new ConfigurationError(`input ${name} is required: ${specs[name]?.description ?? ""}`);
    }
    return v;
  };
  return {
    input,
    required,
    path: (name) => {
      const v = input(name);
      return v === "" ? "" : path.resolve(workspace, v);
    },
    requiredPath: (name) => path.resolve(workspace, required(name)),
    int: (name, min) => {
      const v = input(name);
      const n = Number(v);
      if (v === "" || !Number.isInteger(n) || n < min) {
        throw new ConfigurationError(`input ${name}: ${JSON.stringify(v)} is not an integer >= ${min}`);
      }
      return n;
    },
    bool: (name) => {
      const v = input(name).toLowerCase();
      if (v === "true" || v === "false") return v === "true";
      throw new ConfigurationError(`input ${name}: ${JSON.stringify(v)} is not true or false`);
    },
    oneOf: (name, allowed) => {
      const v = required(name);
      if (!(allowed as readonly string[]).includes(v)) {
        throw new ConfigurationError(
          `input ${name}: ${JSON.stringify(v)}; expected one of ${allowed.join(", ")}`,
        );
      }
      return v as (typeof allowed)[number];
    },
    json: (name) => {
      const v = required(name);
      try {
        return JSON.parse(v);
      } catch (err) {
        throw new ConfigurationError(`input ${name}: not valid JSON (${(err as Error).message})`);
      }
    },
    output: (name, value) => core.setOutput(name, value),
    summary: async (markdown) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return;
      await core.summary.addRaw(markdown, true).write();
    },
    logger: actionLogger,
    workspace,
  };
}

/** The failed step's message and exit code for `err` (see the file comment). */
export function failureOf(action: ActionName, err: unknown): { message: string; exitCode: ExitCode } {
  if (err instanceof ConfigurationError) {
    return { message: `pte-farm ${action}: bad input: ${err.message}`, exitCode: EXIT.usage };
  }
  if (err instanceof StageFailedError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof VerdictFailure) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof InfrastructureError) {
    return { message: `pte-farm ${action}: infrastructure: ${err.message}`, exitCode: EXIT.infra };
  }
  const full = noSpaceMessage(err);
  if (full !== null) return { message: `pte-farm ${action}: infrastructure: ${full}`, exitCode: EXIT.infra };
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    message: `pte-farm ${action}: internal error (a pte-farm bug; please report it): ${detail}`,
    exitCode: EXIT.infra,
  };
}

/**
 * The action's `run()`: what the two-line entry calls, and what `@github/local-action` imports.
 * It never throws; a failure fails the step (and sets the CLI's exit code).
 */
export function defineAction<A extends ActionName>(
  action: A,
  body: (io: ActionIO<A>) => Promise<void>,
): () => Promise<void> {
  return async () => {
    try {
      await body(makeIO(action));
    } catch (err) {
      const { message, exitCode } = failureOf(action, err);
      core.setFailed(message);
      process.exitCode = exitCode;
    }
  };
}
