/**
 * OpenAPI 3.0 schema objects → JSON Schema that ajv validates with the meaning GitHub intends.
 *
 * The OpenAPI-isms that change meaning are converted; the rest is dropped:
 * - `nullable: true` → the type (or the whole schema) also admits `null`, and an `enum` gains `null`;
 * - `oneOf` → `anyOf`: GitHub's description has overlapping branches (e.g. `{string, nullable}` next
 *   to `{integer, nullable}`), which would reject a `null` that GitHub itself sends;
 * - `$ref: "#/components/..."` → an absolute reference into the one schema document ajv holds;
 * - `example`, `discriminator`, `xml`, `externalDocs` and `x-*` vendor keys are documentation.
 *
 * Property names are data, not keywords: a property called `example` or `nullable` is kept.
 */

type Json = Record<string, unknown>;

const DOCUMENTATION = new Set(["example", "discriminator", "xml", "externalDocs", "nullable"]);
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "definitions", "$defs"]);
const SCHEMA_ONE = new Set(["items", "additionalProperties", "not", "additionalItems", "contains"]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf"]);

export interface ConvertOptions {
  /**
   * Reject properties an inline object schema does not list, although GitHub ignores them: a
   * misspelt field (`head-sha`) is silently dropped by GitHub, which is the bug we want a test to
   * catch. Applied to inline objects only (not through `$ref`, not under `allOf`, where closing a
   * branch would reject its sibling's properties).
   */
  closeObjects?: boolean;
}

/** Converts one schema, or a map of named schemas when `node` is `components.schemas`. */
export function toJsonSchema(node: Json, specId: string, options: ConvertOptions = {}): Json {
  return convert(node, specId, options.closeObjects === true) as Json;
}

/** Converts every schema of a `components.schemas` map. */
export function componentsToJsonSchema(schemas: Record<string, Json>, specId: string): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(schemas).map(([name, s]) => [name, convert(s, specId, false) as Json]),
  );
}

function convert(node: unknown, specId: string, close: boolean): unknown {
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") || DOCUMENTATION.has(key)) continue;
    if (key === "$ref" && typeof value === "string") {
      out.$ref = value.startsWith("#/") ? `${specId}${value}` : value;
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, specId, close)]));
    } else if (SCHEMA_ONE.has(key) && isObject(value)) {
      out[key] = convert(value, specId, close);
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      const branches = value.map((v) => convert(v, specId, close && key !== "allOf"));
      addBranches(out, key === "oneOf" ? "anyOf" : key, branches);
    } else {
      out[key] = value;
    }
  }
  if (close && isObject(out.properties) && !("additionalProperties" in out) && out.$ref === undefined) {
    out.additionalProperties = false;
  }
  return node.nullable === true ? nullable(out) : out;
}

/** `anyOf` may arrive twice (from `anyOf` and a converted `oneOf`): both must hold. */
function addBranches(out: Json, key: string, branches: unknown[]): void {
  if (out[key] === undefined) {
    out[key] = branches;
    return;
  }
  const allOf = (out.allOf as unknown[] | undefined) ?? [];
  out.allOf = [...allOf, { [key]: branches }];
}

function nullable(schema: Json): Json {
  const { type } = schema;
  if (typeof type === "string" && schema.$ref === undefined && !hasBranches(schema)) {
    const enumValues = schema.enum as unknown[] | undefined;
    return {
      ...schema,
      type: [type, "null"],
      ...(enumValues && !enumValues.includes(null) ? { enum: [...enumValues, null] } : {}),
    };
  }
  return { anyOf: [{ type: "null" }, schema] };
}

function hasBranches(schema: Json): boolean {
  return schema.allOf !== undefined || schema.anyOf !== undefined || schema.not !== undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
