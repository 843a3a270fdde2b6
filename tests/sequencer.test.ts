/** The order vitest's two workers take test files in (tests/sequencer.ts). */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { committedDurations, longestFirst } from "./sequencer.ts";

describe("the test sequencer", () => {
  it("runs files that failed first, then the longest, with files of unknown duration before known ones", () => {
    const files = [
      { name: "short", failed: false, seconds: 2 },
      { name: "new", failed: false, seconds: Number.POSITIVE_INFINITY },
      { name: "long", failed: false, seconds: 900 },
      { name: "broken", failed: true, seconds: 1 },
      { name: "middle", failed: false, seconds: 60 },
    ];
    expect(longestFirst(files).map((f) => f.name)).toEqual(["broken", "new", "long", "middle", "short"]);
  });

  it("has a committed duration for test files that exist, in seconds", () => {
    const committed = committedDurations();
    const existing = new Set(readdirSync(import.meta.dirname).map((f) => `tests/${f}`));
    const listed = [...committed.keys()];
    expect(listed.length).toBeGreaterThan(0);
    // A measurement of a removed file would mislead nobody, but says the file was not regenerated.
    expect(listed.filter((f) => !existing.has(f))).toEqual([]);
    for (const s of committed.values()) expect(s).toBeGreaterThanOrEqual(0);
    expect(committedDurations(path.join(import.meta.dirname, "no-such.json")).size).toBe(0);
  });
});
