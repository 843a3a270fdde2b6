/**
 * The release manifest's schema (`pte-farm/release@1`): a manifest assembled from a run record and
 * a real lower-stage manifest validates, and each rule a reader relies on to reassemble a file
 * (part names, contiguous offsets, sizes that add up, the limit) is checked when it is read.
 */
import { describe, expect, it } from "vitest";
import { parse, toJsonSchema } from "../actions/src/core/validate.ts";
import { benchFigures } from "../actions/src/release/cell-entry.ts";
import { type ReleaseManifest, releaseManifest } from "../actions/src/schemas/release-manifest.ts";
import { sampleRecord } from "./helpers/record.ts";
import { builtManifest, releaseEntry, releaseOf } from "./helpers/release-manifest.ts";

const check = (m: ReleaseManifest) => parse(releaseManifest, JSON.parse(JSON.stringify(m)), "manifest.json");
const SLUG = "tiny-llama--fp32--portable--pi5--stable";

function split(sizes: number[], limit: number): ReleaseManifest {
  let offset = 0;
  const parts = sizes.map((bytes, i) => {
    const p = { name: `${SLUG}.pte.part-${i + 1}-of-${sizes.length}`, sha256: "d".repeat(64), bytes, offset };
    offset += bytes;
    return p;
  });
  const entry = releaseEntry("pi5", offset);
  return releaseOf([{ ...entry, file: { ...entry.file, parts } }], { part_limit_bytes: limit });
}

describe("release manifest schema", () => {
  it("a manifest built from a run record and a real lower manifest validates, keeping the model block whole", () => {
    const m = check(releaseOf([releaseEntry("pi5"), releaseEntry("m1")]));
    expect(m.cells[0]?.build).toMatchObject({
      program_sha256: builtManifest.program.sha256,
      model: { id: "small-cnn", kind: "cnn", num_classes: 10, input_shape: [1, 3, 32, 32] },
      delegation: { backend: "tosa" },
    });
    expect(m.cells[0]?.toolchain.build["ethos-u-vela"]).toBe("5.1.0");
    expect(m.cells[0]?.device).toEqual({
      runner: "pi5",
      board: "raspberry-pi-5-8gb",
      os: "Debian GNU/Linux 12 (bookworm)",
      kernel: "Linux 6.6.51",
      cpu: "Cortex-A76",
    });
  });

  it("describes itself as JSON Schema, for readers outside pte-farm", () => {
    const schema = toJsonSchema(releaseManifest) as {
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(schema.required).toEqual([
      "schema",
      "tag",
      "git_sha",
      "created_at",
      "repository",
      "workflow_run",
      "part_limit_bytes",
      "cells",
    ]);
    expect(JSON.stringify(schema.properties.cells)).toContain('"pattern":"^[0-9a-f]{64}$"');
  });

  it("bench figures leave flagged reps out and give no interval below 6 samples", () => {
    const figures = benchFigures(sampleRecord());
    expect(figures.decode_tokens_per_sec).toEqual({
      unit: "tok/s",
      better: "higher",
      n: 3,
      median: 102,
      ci: null,
      confidence: 0.95,
    });
    const many = sampleRecord({
      metrics: { decode_tokens_per_sec: { unit: "tok/s", better: "higher", samples: [5, 1, 4, 2, 6, 3] } },
    });
    expect(benchFigures(many).decode_tokens_per_sec).toMatchObject({ n: 6, median: 3.5, ci: [1, 6] });
  });

  it("a file split into parts validates when names, offsets and sizes are consistent", () => {
    expect(check(split([9, 9, 2], 10)).cells[0]?.file.parts).toHaveLength(3);
  });

  it.each([
    [
      "a file at the limit not split",
      () => releaseOf([releaseEntry("pi5", 10)], { part_limit_bytes: 10 }),
      "cells[0].file.parts: 10 bytes must be split (limit 10)",
    ],
    [
      "a part at the limit",
      () => split([10, 2], 10),
      "cells[0].file.parts[0].bytes: must be below the limit 10",
    ],
    [
      "a gap between parts",
      () => {
        const m = split([9, 9], 10);
        const p = m.cells[0]?.file.parts?.[1];
        if (p) p.offset = 10;
        return m;
      },
      "cells[0].file.parts[1].offset: expected 9",
    ],
    [
      "parts that do not add up",
      () => {
        const m = split([9, 9], 10);
        if (m.cells[0]) m.cells[0].file.bytes = 19;
        return m;
      },
      "cells[0].file.bytes: the parts add up to 18",
    ],
    [
      "a misnamed part",
      () => {
        const m = split([9, 9], 10);
        const p = m.cells[0]?.file.parts?.[0];
        if (p) p.name = `${SLUG}.pte.part-1-of-3`;
        return m;
      },
      `cells[0].file.parts[0].name: expected ${SLUG}.pte.part-1-of-2`,
    ],
    [
      "a file not named after its cell",
      () => releaseOf([{ ...releaseEntry("pi5"), file: { ...releaseEntry("pi5").file, name: "model.pte" } }]),
      `cells[0].file.name: expected ${SLUG}.pte`,
    ],
    [
      "a cell listed twice",
      () => releaseOf([releaseEntry("pi5"), releaseEntry("pi5")]),
      "cells[1].cell.id: a second entry for this cell",
    ],
    [
      "a cell id that is not its parts",
      () => {
        const e = releaseEntry("pi5");
        return releaseOf([{ ...e, cell: { ...e.cell, id: "x/y/z/w@v" } }]);
      },
      "cells[0].cell.id: expected tiny-llama/fp32/portable/pi5@stable (from the parts)",
    ],
    [
      "a cell name with a slash",
      () => {
        const e = releaseEntry("pi5");
        return releaseOf([{ ...e, cell: { ...e.cell, device: "../x" } }]);
      },
      "cells[0].cell.device: expected a cell name",
    ],
    [
      "a hash that is not sha256 hex",
      () => {
        const e = releaseEntry("pi5");
        return releaseOf([{ ...e, file: { ...e.file, sha256: "C".repeat(64) } }]);
      },
      "cells[0].file.sha256: expected a sha256 (64 lowercase hex)",
    ],
  ])("refuses %s, naming the path", (_what, make, message) => {
    expect(() => check(make())).toThrow(`manifest.json: ${message}`);
  });
});
