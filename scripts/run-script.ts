/**
 * The one place a workflow script turns an error into an exit code, as main.ts does for the CLI:
 * bad input or usage → 2 with its message, anything else → 3 with its stack.
 */
import { ConfigurationError, EXIT } from "../actions/src/core/errors.ts";

export async function runScript(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const usage =
      err instanceof ConfigurationError ||
      (err instanceof TypeError &&
        /usage:|ERR_PARSE_ARGS/.test(`${err.message} ${"code" in err ? String(err.code) : ""}`));
    process.stderr.write(
      `error: ${usage ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`,
    );
    process.exitCode = usage ? EXIT.usage : EXIT.infra;
  }
}
