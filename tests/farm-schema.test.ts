/**
 * The published JSON Schema is generated from the validator definitions and must not go stale; the
 * combinators it is generated from describe what they check.
 */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { DEFAULT_MATRIX } from "../actions/src/core/paths.ts";
import {
  arr,
  closed,
  int,
  literal,
  nullable,
  obj,
  optional,
  parse,
  str,
  tagged,
  toJsonSchema,
  ValidationError,
} from "../actions/src/core/validate.ts";
import { FARM_SCHEMA_FILE, farmSchemaText } from "../scripts/gen-farm-schema.ts";

describe("matrix/farm.schema.json", () => {
  it("is what scripts/gen-farm-schema.ts generates from matrix/schema.ts (run it after changing the schema)", async () => {
    expect(await readFile(FARM_SCHEMA_FILE, "utf8")).toBe(farmSchemaText());
  });

  it("says it is generated, and farm.yml points editors at it", async () => {
    const schema = JSON.parse(farmSchemaText());
    expect(schema.$comment).toMatch(/^GENERATED from matrix\/schema\.ts/);
    expect((await readFile(DEFAULT_MATRIX, "utf8")).split("\n")[0]).toBe(
      "# yaml-language-server: $schema=./farm.schema.json",
    );
  });

  it("closes every object of the shipped farm against unknown keys except the stage pass-through blocks", () => {
    const schema = JSON.parse(farmSchemaText());
    expect(schema.additionalProperties).toBe(false);
    const devices = schema.properties.devices.additionalProperties;
    expect(devices.additionalProperties).toBe(false);
    expect(devices.required).toContain("runs_on");
    expect(devices.properties.driver.enum).toEqual(["python-runtime", "llama-main", "fvp"]);
    const recipe = schema.properties.recipes.additionalProperties;
    expect(recipe.properties.params.additionalProperties).toEqual({});
  });

  it("lists every top-level section of the shipped farm.yml as a property", async () => {
    const farm = parseYaml(await readFile(DEFAULT_MATRIX, "utf8"));
    const props = Object.keys(JSON.parse(farmSchemaText()).properties);
    expect(Object.keys(farm).filter((k) => !props.includes(k))).toEqual([]);
  });
});

describe("validator combinators as JSON Schema", () => {
  it("describes objects, optional keys, arrays, literals and nullables", () => {
    const check = closed({ a: int, b: optional(arr(str)), c: nullable(literal("x", "y")), d: literal("k") });
    expect(toJsonSchema(check)).toEqual({
      type: "object",
      properties: {
        a: { type: "integer" },
        b: { type: "array", items: { type: "string" } },
        c: { anyOf: [{ enum: ["x", "y"] }, { type: "null" }] },
        d: { const: "k" },
      },
      required: ["a", "c", "d"],
      additionalProperties: false,
    });
    expect(toJsonSchema(obj({ a: int }))).not.toHaveProperty("additionalProperties");
  });

  it("rejects an unknown key with closed, pointing at the key and listing the allowed ones", () => {
    try {
      parse(closed({ name: str, size: optional(int) }), { name: "a", szie: 3 }, "f.yml");
      throw new Error("expected a ValidationError");
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toBe(
        'f.yml: szie: unknown key "szie"; allowed keys: name, size',
      );
      expect((err as ValidationError).onKey).toBe(true);
    }
  });

  it("chooses a tagged variant by its tag and lists the tags for a bad one", () => {
    const check = tagged("kind", {
      a: closed({ kind: literal("a"), x: int }),
      b: closed({ kind: literal("b"), y: str }),
    });
    expect(parse(check, { kind: "b", y: "ok" }, "f")).toEqual({ kind: "b", y: "ok" });
    expect(() => parse(check, { kind: "b", x: 1 }, "f")).toThrow(
      'f: x: unknown key "x"; allowed keys: kind, y',
    );
    expect(() => parse(check, { kind: "c" }, "f")).toThrow('f: kind: expected one of "a" | "b", got "c"');
    expect(toJsonSchema(check)).toHaveProperty("oneOf");
  });
});
