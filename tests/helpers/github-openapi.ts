/**
 * GitHub's official OpenAPI description (`@octokit/openapi`, api.github.com flavour), loaded once
 * per process, and the lookups the local GitHub server needs: route matching by exact path
 * template, `$ref` resolution, and ajv validators compiled on first use.
 *
 * Why the non-dereferenced file: it is 13 MB against 73 MB, parses in ~0.1 s, and ajv resolves the
 * `#/components/schemas/...` references lazily, so only the schemas a test touches get compiled.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvFormats from "ajv-formats";
import { componentsToJsonSchema, toJsonSchema } from "./github-json-schema.ts";

type Json = Record<string, unknown>;

export interface SpecParameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Json;
}

export interface SpecMedia {
  schema?: Json;
  example?: unknown;
  examples?: Record<string, { value?: unknown; $ref?: string }>;
}

export interface SpecResponse {
  description?: string;
  content?: Record<string, SpecMedia>;
  headers?: Record<string, unknown>;
}

/** One operation of the description, with its `$ref`s to parameters and responses resolved. */
export interface SpecOperation {
  operationId: string;
  method: string;
  template: string;
  parameters: SpecParameter[];
  requestBody?: { required?: boolean; content: Record<string, SpecMedia> };
  responses: Record<string, SpecResponse>;
}

interface Spec {
  paths: Record<string, Record<string, Json>>;
  components: Record<string, Record<string, Json>>;
}

const SPEC_ID = "https://github-openapi.local/spec.json";
const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

let loaded: GitHubOpenApi | undefined;

/** The process-wide copy (parsing and indexing the description once keeps each test file fast). */
export function githubOpenApi(): GitHubOpenApi {
  loaded ??= new GitHubOpenApi(readSpec());
  return loaded;
}

function readSpec(): Spec {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
  return JSON.parse(readFileSync(file, "utf8")) as Spec;
}

/** A validation outcome: `errors` is empty when the value conforms. */
export interface Checked {
  ok: boolean;
  errors: string[];
}

export class GitHubOpenApi {
  readonly version: string;
  private readonly spec: Spec;
  private readonly routes: { segments: string[]; template: string; ops: Map<string, SpecOperation> }[] = [];
  private readonly byId = new Map<string, SpecOperation>();
  /** Bodies and responses: exact types, no coercion. */
  private readonly ajv: Ajv;
  /** Path and query parameters arrive as strings; this one coerces "7" → 7 as GitHub's router does. */
  private readonly paramAjv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(spec: Spec) {
    this.spec = spec;
    this.version = String((spec as unknown as { info?: { version?: string } }).info?.version ?? "?");
    for (const [template, item] of Object.entries(spec.paths)) {
      const ops = new Map<string, SpecOperation>();
      for (const [method, raw] of Object.entries(item)) {
        if (!HTTP_METHODS.has(method)) continue;
        const op = this.operation(method.toUpperCase(), template, raw, item.parameters);
        ops.set(op.method, op);
        this.byId.set(op.operationId, op);
      }
      this.routes.push({ segments: template.split("/"), template, ops });
    }
    const components = {
      $id: SPEC_ID,
      components: {
        schemas: componentsToJsonSchema(spec.components.schemas as Record<string, Json>, SPEC_ID),
      },
    };
    this.ajv = makeAjv(false);
    this.paramAjv = makeAjv("array");
    this.ajv.addSchema(components);
    this.paramAjv.addSchema(components);
  }

  /** The operation with this id (e.g. "issues/create-comment"); throws on a typo in a test. */
  byOperationId(operationId: string): SpecOperation {
    const op = this.byId.get(operationId);
    if (op === undefined) throw new Error(`no operation "${operationId}" in GitHub's OpenAPI description`);
    return op;
  }

  /**
   * The operation whose path template matches `pathname` exactly (one segment per `{param}`) and
   * that has `method`. Literal segments win over parameters, left to right, as GitHub's router
   * does: `/repos/o/r/issues/comments` is "list comments for a repository", not issue #comments.
   * `pathMatched` says whether some template matched the path with another method.
   */
  match(
    method: string,
    pathname: string,
  ): { op?: SpecOperation; params: Record<string, string>; pathMatched: boolean } {
    const segments = pathname.split("/");
    let best: { op: SpecOperation; params: Record<string, string>; rank: string } | undefined;
    let pathMatched = false;
    for (const route of this.routes) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let rank = "";
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const want = route.segments[i] as string;
        const got = segments[i] as string;
        const param = /^\{([^}]+)\}$/.exec(want);
        if (param) {
          if (got === "") ok = false;
          else params[param[1] as string] = safeDecode(got);
          rank += "0";
        } else {
          ok = want === got;
          rank += "1";
        }
      }
      if (!ok) continue;
      pathMatched = true;
      const op = route.ops.get(method);
      if (op && (best === undefined || rank > best.rank)) best = { op, params, rank };
    }
    return best ? { op: best.op, params: best.params, pathMatched } : { params: {}, pathMatched };
  }

  /** Validates (and coerces in place) the `in` parameters of `op`; unknown names are errors too. */
  checkParams(op: SpecOperation, where: "path" | "query", values: Record<string, unknown>): Checked {
    const declared = op.parameters.filter((p) => p.in === where);
    const key = `${op.operationId} ${where}`;
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      const properties: Json = {};
      for (const p of declared) properties[p.name] = p.schema ? toJsonSchema(p.schema, SPEC_ID) : {};
      const required = declared.filter((p) => p.required || where === "path").map((p) => p.name);
      const schema = { type: "object", properties, required, additionalProperties: false };
      validate = this.paramAjv.compile(schema);
      this.compiled.set(key, validate);
    }
    return result(validate, values, where);
  }

  /**
   * Validates a JSON value against `schema` (an OpenAPI schema of the description), compiled once
   * per `cacheKey`. `closeObjects` (for request bodies) rejects unlisted properties.
   */
  check(cacheKey: string, schema: () => Json, value: unknown, label: string, closeObjects = false): Checked {
    let validate = this.compiled.get(cacheKey);
    if (validate === undefined) {
      validate = this.ajv.compile(toJsonSchema(schema(), SPEC_ID, { closeObjects }));
      this.compiled.set(cacheKey, validate);
    }
    return result(validate, value, label);
  }

  /** A `#/components/...` reference, resolved (one level; nested schema refs are ajv's job). */
  resolve<T>(value: T | { $ref: string }): T {
    let current: unknown = value;
    for (let hops = 0; hops < 10; hops++) {
      if (!isRef(current)) return current as T;
      const [, , section, name] = current.$ref.split("/");
      current = this.spec.components[section as string]?.[name as string];
      if (current === undefined) throw new Error(`unresolvable $ref ${(value as { $ref: string }).$ref}`);
    }
    throw new Error("$ref chain too long");
  }

  /** The documented example payload of a media entry (`examples` first, then `example`). */
  exampleOf(media: SpecMedia | undefined): { found: boolean; value?: unknown } {
    if (media === undefined) return { found: false };
    for (const entry of Object.values(media.examples ?? {})) {
      const resolved = this.resolve(entry) as { value?: unknown };
      if (resolved && "value" in resolved) return { found: true, value: structuredClone(resolved.value) };
    }
    if ("example" in media) return { found: true, value: structuredClone(media.example) };
    return { found: false };
  }

  private operation(method: string, template: string, raw: Json, shared: unknown): SpecOperation {
    const params = [...((shared as unknown[]) ?? []), ...((raw.parameters as unknown[]) ?? [])].map((p) =>
      this.resolve(p as SpecParameter),
    );
    const responses: Record<string, SpecResponse> = {};
    for (const [status, r] of Object.entries((raw.responses as Json) ?? {})) {
      responses[status] = this.resolve(r as SpecResponse);
    }
    const body = raw.requestBody ? this.resolve(raw.requestBody as SpecOperation["requestBody"]) : undefined;
    return {
      operationId: String(raw.operationId),
      method,
      template,
      parameters: params,
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
}

function makeAjv(coerceTypes: false | "array"): Ajv {
  // strict: false because the description uses formats ajv does not know (int64) and vendor
  // keywords; the conversion in github-json-schema.ts handles the ones that change meaning.
  const ajv = new Ajv({
    strict: false,
    logger: false,
    allErrors: true,
    validateSchema: false,
    coerceTypes,
    useDefaults: false,
  });
  ajvFormats.default(ajv);
  return ajv;
}

function result(validate: ValidateFunction, value: unknown, label: string): Checked {
  if (validate(value)) return { ok: true, errors: [] };
  return { ok: false, errors: (validate.errors ?? []).slice(0, 8).map((e) => describe(e, label)) };
}

function describe(e: ErrorObject, label: string): string {
  const where = `${label}${e.instancePath}`;
  if (e.keyword === "additionalProperties") {
    return `${where}: property "${(e.params as { additionalProperty: string }).additionalProperty}" is not allowed`;
  }
  if (e.keyword === "enum") {
    return `${where} ${e.message}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  }
  return `${where} ${e.message ?? e.keyword}`;
}

function isRef(value: unknown): value is { $ref: string } {
  return (
    typeof value === "object" && value !== null && typeof (value as { $ref?: unknown }).$ref === "string"
  );
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
