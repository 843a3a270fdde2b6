import { describe, expect, it } from "vitest";
import {
  arr,
  int,
  literal,
  obj,
  open,
  optional,
  parse,
  parseJson,
  record,
  str,
  ValidationError,
} from "../actions/src/core/validate.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { stageData, stageResult } from "../actions/src/schemas/stage.ts";

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error("expected a ValidationError");
}

describe("validator", () => {
  it("names the file and the JSON path of a bad array element", () => {
    const check = obj({ data: obj({ prompts: arr(obj({ ids: arr(int) })) }) });
    const err = errorOf(() => parse(check, { data: { prompts: [{ ids: [1, 2, 3, "x"] }] } }, "result.json"));
    expect(err.message).toBe('result.json: data.prompts[0].ids[3]: expected an integer, got "x"');
  });

  it("reports a missing field as missing, not as undefined", () => {
    const err = errorOf(() => parse(obj({ schema: str }), {}, "manifest.json"));
    expect(err.message).toBe("manifest.json: schema: expected a string, got nothing (the field is missing)");
  });

  it("lists the allowed values of a literal", () => {
    const err = errorOf(() => parse(obj({ status: literal("ok", "failed") }), { status: "done" }, "r.json"));
    expect(err.message).toBe('r.json: status: expected one of "ok" | "failed", got "done"');
  });

  it("quotes record keys that are not identifiers", () => {
    const err = errorOf(() => parse(record(int), { "aten.add.out": 1, "aten.mul.out": 1.5 }, "cpu_ops"));
    expect(err.message).toBe('cpu_ops: ["aten.mul.out"]: expected an integer, got 1.5');
  });

  it("accepts absent optional keys and rejects present ones of the wrong type", () => {
    const check = obj({ a: optional(int) });
    expect(parse(check, {}, "x")).toEqual({});
    expect(errorOf(() => parse(check, { a: "1" }, "x")).message).toBe('x: a: expected an integer, got "1"');
  });

  it("drops unknown keys with obj but keeps them with open", () => {
    expect(parse(obj({ a: int }), { a: 1, b: 2 }, "x")).toEqual({ a: 1 });
    expect(parse(open({ a: int }), { a: 1, b: 2 }, "x")).toEqual({ a: 1, b: 2 });
  });

  it("reports invalid JSON as a ValidationError of the file", () => {
    expect(errorOf(() => parseJson(obj({}), "{not json", "result.json")).message).toMatch(
      /^result\.json: not valid JSON \(/,
    );
  });

  it("rejects a result that says ok but carries an error", () => {
    const result = {
      schema: "pte-farm/stage-result@1",
      stage: "lower",
      status: "ok",
      started_at: "",
      finished_at: "",
      duration_s: 1,
      toolchain: {},
      artefacts: {},
      data: {},
      error: { kind: "stage", type: "RuntimeError", message: "boom" },
    };
    expect(errorOf(() => parse(stageResult, result, "result.json")).message).toBe(
      'result.json: error: must be null when status is "ok"',
    );
  });

  it("requires every promised metric in execute data", () => {
    const data = {
      prompts: [],
      reps: 1,
      warmup: 0,
      metrics: { decode_tokens_per_sec: { unit: "tok/s", better: "higher", samples: [1] } },
    };
    expect(errorOf(() => parse(stageData.execute, data, "result.json: data")).message).toBe(
      "result.json: data: metrics.prefill_tokens_per_sec: required metric is missing (a driver that cannot measure it names it in driver.unavailable)",
    );
  });

  it("validates run records where they are read, naming the first bad field", () => {
    const err = errorOf(() => parse(runRecord, { schema: "pte-farm/run@1", cell: {} }, "run.json"));
    expect(err.message).toBe("run.json: cell.id: expected a string, got nothing (the field is missing)");
  });
});
