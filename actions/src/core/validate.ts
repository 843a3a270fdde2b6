/**
 * A small typed validator: every file pte-farm reads from outside (stage results, manifests, run
 * records, matrix YAML) goes through one of these checks where it is read, and comes out typed.
 *
 * Why not ajv/zod: the schemas are few and small, and the one thing we care about is the error
 * message — it must name the file and the JSON path of the first bad value, e.g.
 * `result.json: data.prompts[0].ids[3]: expected an integer, got "x"`.
 *
 * Objects made with {@link obj} are open: unknown keys are accepted and dropped, so a newer producer
 * can add fields without breaking an older reader (the stage contract says "ignore the fields you do
 * not use"). Files people write by hand (the matrix) use {@link closed}, where an unknown key is a
 * typo to report.
 *
 * Every combinator also describes itself as JSON Schema ({@link toJsonSchema}), so a schema published
 * for editors (matrix/farm.schema.json) is generated from the same definitions that validate.
 */

/** A JSON Schema (draft 2020-12) fragment. */
export type JsonSchema = Record<string, unknown>;

// Thunks, so a check can be described before the checks it wraps have been (they are built bottom-up,
// but a custom check may be given its description after it is used).
const JSON_SCHEMAS = new WeakMap<object, () => JsonSchema>();

/** Attaches a JSON Schema description to a check (for custom checks the combinators cannot see into). */
export function withJsonSchema<C extends Check<unknown>>(
  check: C,
  schema: JsonSchema | (() => JsonSchema),
): C {
  JSON_SCHEMAS.set(check, typeof schema === "function" ? schema : () => schema);
  return check;
}

/** The JSON Schema of a check; a check nobody described is a bug in the schema module, not user input. */
export function toJsonSchema(check: Check<unknown>): JsonSchema {
  const describeIt = JSON_SCHEMAS.get(check);
  if (describeIt === undefined) throw new Error("bug: a check has no JSON Schema; wrap it in withJsonSchema");
  return describeIt();
}

/** Adds a `description` (shown by editors on hover) to a check's JSON Schema; validation is unchanged. */
export function documented<T>(inner: Check<T>, description: string): Check<T> {
  const check: Check<T> = (v, path) => inner(v, path);
  return withJsonSchema(check, () => ({ ...toJsonSchema(inner), description }));
}

/** One step into a value: an object key or an array index. */
export type PathSegment = string | number;

/** Thrown by checks; `source` is filled in by {@link parse}. */
export class ValidationError extends Error {
  readonly source: string;
  readonly path: readonly PathSegment[];
  readonly detail: string;
  /** The problem is the key at the end of `path` (an unknown key), not its value: point at the key. */
  readonly onKey: boolean;

  constructor(source: string, path: readonly PathSegment[], detail: string, onKey = false) {
    const where = formatPath(path);
    super([source, where, detail].filter((part) => part !== "").join(": "));
    this.name = "ValidationError";
    this.source = source;
    this.path = path;
    this.detail = detail;
    this.onKey = onKey;
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

/**
 * Whether checks build the JSON path of each value as they go. {@link parse} first runs a check
 * without (a path is an array per value: most of the cost of checking a large, valid document) and
 * runs it again with paths only when it fails, so the message is the same either way.
 */
let tracking = true;

/** The path of `key` under `path`, or (a check running untracked) `path` itself, unused. */
function at(path: readonly PathSegment[], key: PathSegment): readonly PathSegment[] {
  return tracking ? [...path, key] : path;
}

function fail(path: readonly PathSegment[], expected: string, value: unknown): never {
  throw new ValidationError("", path, `expected ${expected}, got ${describe(value)}`);
}

export const str: Check<string> = withJsonSchema(
  (v, path) => (typeof v === "string" ? v : fail(path, "a string", v)),
  { type: "string" },
);

/** A string that is not empty: names and ids, where "" is always a mistake. */
export const nonEmptyStr: Check<string> = withJsonSchema(
  (v, path) => (typeof v === "string" && v !== "" ? v : fail(path, "a non-empty string", v)),
  { type: "string", minLength: 1 },
);

/** A finite number (JSON has no NaN; a stage that prints one has broken the contract). */
export const num: Check<number> = withJsonSchema(
  (v, path) => (typeof v === "number" && Number.isFinite(v) ? v : fail(path, "a number", v)),
  { type: "number" },
);

export const int: Check<number> = withJsonSchema(
  (v, path) => (typeof v === "number" && Number.isInteger(v) ? v : fail(path, "an integer", v)),
  { type: "integer" },
);

export const nonNegInt: Check<number> = withJsonSchema(
  (v, path) =>
    typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : fail(path, "a non-negative integer", v),
  { type: "integer", minimum: 0 },
);

export const bool: Check<boolean> = withJsonSchema(
  (v, path) => (typeof v === "boolean" ? v : fail(path, "a boolean", v)),
  { type: "boolean" },
);

/** Accepts anything; for blocks validated later by a more specific check. */
export const unknownValue: Check<unknown> = withJsonSchema((v) => v, {});

/** One of a fixed set of values; the message lists them all. */
export function literal<const L extends string | number | boolean | null>(...allowed: L[]): Check<L> {
  const shown = allowed.map((a) => JSON.stringify(a)).join(" | ");
  const check: Check<L> = (v, path) =>
    allowed.includes(v as L) ? (v as L) : fail(path, `one of ${shown}`, v);
  return withJsonSchema(check, allowed.length === 1 ? { const: allowed[0] } : { enum: allowed });
}

export function arr<T>(item: Check<T>): Check<T[]> {
  const check: Check<T[]> = (v, path) => {
    if (!Array.isArray(v)) fail(path, "an array", v);
    return tracking ? v.map((el, i) => item(el, [...path, i])) : v.map((el) => item(el, path));
  };
  return withJsonSchema(check, () => ({ type: "array", items: toJsonSchema(item) }));
}

export function nullable<T>(inner: Check<T>): Check<T | null> {
  const check: Check<T | null> = (v, path) => (v === null ? null : inner(v, path));
  return withJsonSchema(check, () => ({ anyOf: [toJsonSchema(inner), { type: "null" }] }));
}

/** A check marked optional: inside {@link obj} the key may be absent. */
export type OptionalCheck<T> = Check<T | undefined> & { readonly optional: true };

export function optional<T>(inner: Check<T>): OptionalCheck<T> {
  const check: Check<T | undefined> = (v, path) => (v === undefined ? undefined : inner(v, path));
  withJsonSchema(check, () => toJsonSchema(inner));
  return Object.assign(check, { optional: true as const });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An object with string keys and values of one type (metrics by name, versions by package). */
export function record<T>(value: Check<T>): Check<Record<string, T>> {
  const check: Check<Record<string, T>> = (v, path) => {
    if (!isPlainObject(v)) fail(path, "an object", v);
    const out: Record<string, T> = {};
    for (const [key, el] of Object.entries(v)) out[key] = value(el, at(path, key));
    return out;
  };
  return withJsonSchema(check, () => ({ type: "object", additionalProperties: toJsonSchema(value) }));
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

function objectSchema(shape: Shape, additional: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [key, check] of Object.entries(shape)) {
    properties[key] = toJsonSchema(check);
    if (!("optional" in check)) required.push(key);
  }
  return {
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(additional ? {} : { additionalProperties: false }),
  };
}

export function obj<S extends Shape>(shape: S): Check<ObjOf<S>> {
  const entries = Object.entries(shape);
  const check: Check<ObjOf<S>> = (v, path) => {
    if (!isPlainObject(v)) fail(path, "an object", v);
    const out: Record<string, unknown> = {};
    for (const [key, check] of entries) {
      const value = check(v[key], at(path, key));
      if (value !== undefined) out[key] = value;
    }
    return out as ObjOf<S>;
  };
  return withJsonSchema(check, () => objectSchema(shape, true));
}

/**
 * Like {@link obj}, but an unknown key is an error naming the allowed keys. For files people write
 * by hand, where an unknown key is a typo that would otherwise be silently ignored.
 */
export function closed<S extends Shape>(shape: S): Check<ObjOf<S>> {
  const known = obj(shape);
  const allowed = Object.keys(shape);
  const check: Check<ObjOf<S>> = (v, path) => {
    if (isPlainObject(v)) {
      const bad = Object.keys(v).find((k) => !Object.hasOwn(shape, k));
      if (bad !== undefined) {
        throw new ValidationError(
          "",
          [...path, bad],
          `unknown key ${JSON.stringify(bad)}; allowed keys: ${allowed.join(", ")}`,
          true,
        );
      }
    }
    return known(v, path);
  };
  return withJsonSchema(check, () => objectSchema(shape, false));
}

/**
 * One of several object shapes, chosen by the value of `key` (e.g. a model's `kind`): the error for
 * a bad tag lists the tags, and every other error comes from the chosen shape alone.
 */
export function tagged<V extends Record<string, Check<unknown>>>(
  key: string,
  variants: V,
): Check<Infer<V[keyof V]>> {
  const tags = Object.keys(variants);
  const check: Check<Infer<V[keyof V]>> = (v, path) => {
    if (!isPlainObject(v)) fail(path, "an object", v);
    const variant = typeof v[key] === "string" ? variants[v[key] as string] : undefined;
    if (variant === undefined) {
      fail([...path, key], `one of ${tags.map((t) => JSON.stringify(t)).join(" | ")}`, v[key]);
    }
    return variant(v, path) as Infer<V[keyof V]>;
  };
  return withJsonSchema(check, () => ({
    oneOf: tags.map((t) => toJsonSchema(variants[t] as Check<unknown>)),
  }));
}

/**
 * Like {@link obj}, but keeps keys the shape does not name. For blocks that are handed on to the
 * Python stages verbatim (a recipe's extra knobs), where dropping a key would silently change a build.
 */
export function open<S extends Shape>(shape: S): Check<ObjOf<S> & Record<string, unknown>> {
  const known = obj(shape);
  const check: Check<ObjOf<S> & Record<string, unknown>> = (v, path) => {
    const checked = known(v, path);
    return { ...(v as Record<string, unknown>), ...checked };
  };
  return withJsonSchema(check, () => objectSchema(shape, true));
}

/**
 * Adds a cross-field rule to a check; `rule` returns a message (with its own path) or null. JSON
 * Schema cannot say most such rules; `schema` adds what it can (merged into the inner description).
 */
export function refine<T>(
  inner: Check<T>,
  rule: (value: T) => { path: PathSegment[]; message: string } | null,
  schema: JsonSchema = {},
): Check<T> {
  const check: Check<T> = (v, path) => {
    const value = inner(v, path);
    const problem = rule(value);
    if (problem !== null) throw new ValidationError("", [...path, ...problem.path], problem.message);
    return value;
  };
  return withJsonSchema(check, () => ({ ...toJsonSchema(inner), ...schema }));
}

/**
 * Runs a check on a whole document and stamps the source (a file name) on any error. The check
 * runs untracked first (see {@link tracking}); a document it rejects is checked again with paths,
 * for the message.
 */
export function parse<T>(check: Check<T>, value: unknown, source: string): T {
  if (tracking) {
    tracking = false;
    try {
      return check(value, []);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
    } finally {
      tracking = true;
    }
  }
  try {
    return check(value, []);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(source, err.path, err.detail, err.onKey);
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
