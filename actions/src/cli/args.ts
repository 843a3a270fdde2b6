/**
 * The one place `node:util` parseArgs errors become bad input (exit 2) that points at the
 * command's help, for every `pte-farm` command.
 */
import { ConfigurationError } from "../core/errors.ts";

export function usageErrors<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      throw new ConfigurationError(`${err.message}; see \`pte-farm ${command} --help\``);
    }
    throw err;
  }
}
