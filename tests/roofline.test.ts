import { describe, expect, it } from "vitest";
import { parse } from "../actions/src/core/validate.ts";
import { roofline } from "../actions/src/records/roofline.ts";
import { cleanSamples, flaggedCount } from "../actions/src/records/samples.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { renderTable } from "../reports/summary.ts";
import { sampleRecord } from "./helpers/record.ts";

describe("roofline", () => {
  it("bounds decode speed by bandwidth over the bytes read per token (the .pte size)", () => {
    // A 1 GB .pte on a Pi 5's 17.1 GB/s reads at most 17.1 tokens/s; 0.87 tok/s is 5% of that.
    const r = roofline(0.87, 1e9, 17.1);
    expect(r).toEqual({
      bytes_per_token: 1e9,
      bandwidth_gbs: 17.1,
      bound_tokens_per_sec: 17.1,
      fraction: 0.0509,
    });
  });

  it("is null when the device's bandwidth is unknown, and has no fraction without a decode speed", () => {
    expect(roofline(10, 1e6, null)).toBeNull();
    expect(roofline(10, null, 17.1)).toBeNull();
    expect(roofline(null, 1e9, 17.1)?.fraction).toBeNull();
  });

  it("is shown as a percentage in the summary, and — when unknown", () => {
    const known = sampleRecord({ roofline: roofline(100, 1_782_579, 17.1) });
    const unknown = sampleRecord({ roofline: null, role: "base" });
    const table = renderTable([known, unknown]);
    expect(table.split("\n")[0]).toContain("| roofline |");
    expect(table.split("\n")[2]).toContain("| 1.7 MiB | 1.0% |");
    expect(table.split("\n")[3]).toContain("| 1.7 MiB | — |");
    // An interleaved session's base row says so: two rows of one cell are base and head.
    expect(table.split("\n")[3]).toMatch(/^\| tiny-llama\/fp32\/portable\/pi5@stable \(base\) \|/);
  });
});

describe("flagged samples", () => {
  it("are left out of the summary's median, which says how many", () => {
    const r = sampleRecord();
    expect(cleanSamples(r.metrics.decode_tokens_per_sec)).toEqual([100, 104, 102]);
    expect(flaggedCount(r.metrics.decode_tokens_per_sec)).toBe(1);
    expect(renderTable([r])).toContain("| 102.00 (1 flagged) |");
  });

  it("must run parallel to the samples: a run record with a short sample_flags is refused", () => {
    const bad = sampleRecord();
    (bad.metrics.decode_tokens_per_sec as { sample_flags?: string[][] }).sample_flags = [[]];
    expect(() => parse(runRecord, bad, "run.json")).toThrow(
      "run.json: metrics.decode_tokens_per_sec.sample_flags: has 1 entries but samples has 4; they must be parallel",
    );
  });

  it("are optional: a record from before issue 4 (no flags, telemetry or roofline) still validates", () => {
    const old = sampleRecord();
    delete old.metrics.decode_tokens_per_sec?.sample_flags;
    expect(() => parse(runRecord, old, "old.json")).not.toThrow();
  });
});
