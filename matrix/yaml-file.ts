/**
 * Reads a YAML file and validates it, turning every problem into a ConfigurationError that names
 * `file:line:column` — the YAML files under matrix/ are written by people, and "fix line 31" is
 * the most useful thing we can tell them.
 */
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { displayPath } from "../actions/src/core/paths.ts";
import {
  type Check,
  formatPath,
  type PathSegment,
  parse,
  ValidationError,
} from "../actions/src/core/validate.ts";

/** A validated YAML document that can still point at the line of any of its values. */
export interface YamlFile<T> {
  path: string;
  data: T;
  /**
   * `file:line:col` of the value at `at` (or of its nearest existing parent); with `onKey`, of the
   * key that ends `at` (for "unknown key" errors, where the key is the mistake).
   */
  where(at: readonly PathSegment[], onKey?: boolean): string;
}

/** Reads `file`, parses it as YAML and validates it with `check`; throws ConfigurationError on any problem. */
export async function readYamlFile<T>(file: string, check: Check<T>, what: string): Promise<YamlFile<T>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigurationError(
      `cannot read the ${what} ${displayPath(file)} (${reason}); pass a readable YAML file`,
      {
        cause: err,
      },
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const shown = displayPath(file);
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const pos = first === undefined ? undefined : lines.linePos(first.pos[0]);
    const loc = pos === undefined ? shown : `${shown}:${pos.line}:${pos.col}`;
    throw new ConfigurationError(
      `${loc}: the ${what} is not valid YAML: ${first?.message.split("\n")[0] ?? "?"}`,
    );
  }
  const where = (at: readonly PathSegment[], onKey = false): string => {
    const parent = onKey && at.length > 0 ? doc.getIn(at.slice(0, -1), true) : undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === at[at.length - 1]);
      if (isScalar(pair?.key) && pair.key.range) {
        const pos = lines.linePos(pair.key.range[0]);
        return `${shown}:${pos.line}:${pos.col}`;
      }
    }
    for (let n = at.length; n >= 0; n--) {
      const node = doc.getIn(at.slice(0, n), true) as Node | undefined;
      if (node !== undefined && node !== null && typeof node === "object" && "range" in node && node.range) {
        const pos = lines.linePos(node.range[0]);
        return `${shown}:${pos.line}:${pos.col}`;
      }
      if (n === 0 && (isMap(doc.contents) || isSeq(doc.contents))) break;
    }
    return shown;
  };
  try {
    return { path: file, data: parse(check, doc.toJS(), shown), where };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const field = formatPath(err.path);
    throw new ConfigurationError(
      `${where(err.path, err.onKey)}: ${field === "" ? "" : `${field}: `}${err.detail}`,
      {
        cause: err,
      },
    );
  }
}
