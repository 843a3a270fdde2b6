/**
 * A small typed validator: every file pte-farm reads from outside (stage results, manifests, run
 * records, matrix YAML) goes through one of these checks where it is read, and comes out typed.
 *
 * Why not ajv/zod: the schemas are few and small, and the one thing we care about is the error
 * message — it must name the file and the JSON path of the first bad value, e.g.
 * `result.json: data.prompts[0].ids[3]: expected an integer, got "x"`.
 *
 * Objects are open: unknown keys are accepted and dropped, so a newer producer can add fields
 * without breaking an older reader (the stage contract says "ignore the fields you do not use").
 */

/** One step into a value: an object key or an array index. */
export type PathSegment = string | number;

/** Thrown by checks; `source` is filled in by {@link parse}. */
export class ValidationError extends Error {
  readonly source: string;
  readonly path: readonly PathSegment[];
  readonly detail: string;

  constructor(source: string, path: readonly PathSegment[], detail: string) {
    const where = formatPath(path);
    super([source, where, detail].filter((part) => part !== "").join(": "));
    this.name = "ValidationError";
    this.source = source;
    this.path = path;
    this.detail = detail;
  }
}

/** A check returns the typed value or throws a {@link ValidationError} naming `path`. */
export type Check<T> = (value: unknown, path: readonly PathSegment[]) => T;

/** The type a check produces. */
export type Infer<C> = C extends Check<infer T> ? T : never;

/** `data.prompts[0].ids[3]`; the empty path (the document itself) formats as "". */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** How a bad value is shown in a message: short, and unambiguous about its type. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fail(path: readonly PathSegment[], expected: string, value: unknown): never {
  throw new ValidationError("", path, `expected ${expected}, got ${describe(value)}`);
}

export const str: Check<string> = (v, path) => (typeof v === "string" ? v : fail(path, "a string", v));

/** A string that is not empty: names and ids, where "" is always a mistake. */
export const nonEmptyStr: Check<string> = (v, path) =>
  typeof v === "string" && v !== "" ? v : fail(path, "a non-empty string", v);

/** A finite number (JSON has no NaN; a stage that prints one has broken the contract). */
export const num: Check<number> = (v, path) =>
  typeof v === "number" && Number.isFinite(v) ? v : fail(path, "a number", v);

export const int: Check<number> = (v, path) =>
  typeof v === "number" && Number.isInteger(v) ? v : fail(path, "an integer", v);

export const nonNegInt: Check<number> = (v, path) =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : fail(path, "a non-negative integer", v);

export const bool: Check<boolean> = (v, path) => (typeof v === "boolean" ? v : fail(path, "a boolean", v));

/** Accepts anything; for blocks validated later by a more specific check. */
export const unknownValue: Check<unknown> = (v) => v;

/** One of a fixed set of values; the message lists them all. */
export function literal<const L extends string | number | boolean | null>(...allowed: L[]): Check<L> {
  const shown = allowed.map((a) => JSON.stringify(a)).join(" | ");
  return (v, path) => (allowed.includes(v as L) ? (v as L) : fail(path, `one of ${shown}`, v));
}

export function arr<T>(item: Check<T>): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, "an array", v);
    return v.map((el, i) => item(el, [...path, i]));
  };
}

export function nullable<T>(inner: Check<T>): Check<T | null> {
  return (v, path) => (v === null ? null : inner(v, path));
}

/** A check marked optional: inside {@link obj} the key may be absent. */
export type OptionalCheck<T> = Check<T | undefined> & { readonly optional: true };

export function optional<T>(inner: Check<T>): OptionalCheck<T> {
  const check: Check<T | undefined> = (v, path) => (v === undefined ? undefined : inner(v, path));
  return Object.assign(check, { optional: true as const });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An object with string keys and values of one type (metrics by name, versions by package). */
export function record<T>(value: Check<T>): Check<Record<string, T>> {
  return (v, path) => {
    if (!isPlainObject(v)) fail(path, "an object", v);
    const out: Record<string, T> = {};
    for (const [key, el] of Object.entries(v)) out[key] = value(el, [...path, key]);
    return out;
  };
}

type Shape = Record<string, Check<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The object type a shape describes: optional checks become optional keys. */
export type ObjOf<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & {
    [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined>;
  }
>;

export function obj<S extends Shape>(shape: S): Check<ObjOf<S>> {
  return (v, path) => {
    if (!isPlainObject(v)) fail(path, "an object", v);
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(shape)) {
      const value = check(v[key], [...path, key]);
      if (value !== undefined) out[key] = value;
    }
    return out as ObjOf<S>;
  };
}

/**
 * Like {@link obj}, but keeps keys the shape does not name. For blocks that are handed on to the
 * Python stages verbatim (a recipe's extra knobs), where dropping a key would silently change a build.
 */
export function open<S extends Shape>(shape: S): Check<ObjOf<S> & Record<string, unknown>> {
  const known = obj(shape);
  return (v, path) => {
    const checked = known(v, path);
    return { ...(v as Record<string, unknown>), ...checked };
  };
}

/** Adds a cross-field rule to a check; `rule` returns a message (with its own path) or null. */
export function refine<T>(
  inner: Check<T>,
  rule: (value: T) => { path: PathSegment[]; message: string } | null,
): Check<T> {
  return (v, path) => {
    const value = inner(v, path);
    const problem = rule(value);
    if (problem !== null) throw new ValidationError("", [...path, ...problem.path], problem.message);
    return value;
  };
}

/** Runs a check on a whole document and stamps the source (a file name) on any error. */
export function parse<T>(check: Check<T>, value: unknown, source: string): T {
  try {
    return check(value, []);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(source, err.path, err.detail);
    throw err;
  }
}

/** JSON.parse, with a syntax error reported as a ValidationError of `source`. */
export function parseJson<T>(check: Check<T>, text: string, source: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(source, [], `not valid JSON (${(err as Error).message})`);
  }
  return parse(check, value, source);
}
