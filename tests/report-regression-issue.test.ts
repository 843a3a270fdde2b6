import { describe, expect, it } from "vitest";
import { cellSeries, confirm, detectSeries } from "../actions/src/compare/detect.ts";
import { KNOWN_ISSUES_FILE } from "../actions/src/core/paths.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { loadKnownIssues } from "../matrix/known-issues.ts";
import { escapeInline } from "../reports/escape.ts";
import {
  isRegression,
  parseRegressionMarker,
  REGRESSION_LABELS,
  regressionMarker,
  renderRecoveryNote,
  renderRegressionIssue,
} from "../reports/regression-issue.ts";
import { COMMENT_BUDGET, githubSize } from "../reports/size.ts";
import { ADVERSARIAL } from "./helpers/adversarial.ts";
import { hasGfm, pings, renderGfm, tags } from "./helpers/gfm.ts";
import { record } from "./helpers/records.ts";

const METRIC = "decode_tokens_per_sec";

/** One record per night, 8 reps each; the level drops by `drop` from night `at` on. */
function history(seed: number, n: number, at: number, drop: number, cellId?: string): RunRecord[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const level = 600 * (i >= at ? 1 - drop : 1) * (1 + 0.01 * rng.normal());
    const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
    const day = new Date(Date.UTC(2026, 10, 1) + i * 86_400_000).toISOString();
    const r = record(reps, { session: `night-${i}`, startedAt: day, gitSha: `${i}`.padStart(40, "a") });
    r.role = "nightly";
    if (cellId !== undefined) r.cell = { ...r.cell, id: cellId };
    return r;
  });
}

function detected(cellId?: string) {
  const records = history(3, 30, 20, 0.1, cellId);
  const cell = records[0]?.cell.id as string;
  const series = cellSeries(records, cell, METRIC);
  const detection = detectSeries(series, cell, METRIC);
  const cp = detection.change_points[0];
  if (cp === undefined) throw new Error("the synthetic step was not found");
  return { records, series, detection, cp };
}

describe("the regression marker", () => {
  it("round-trips any cell id and metric, and stays one HTML comment", () => {
    for (const cell of [...ADVERSARIAL, "tiny-llama/8da4w-g32/xnnpack/pi5@stable", "a-->b --!> c"]) {
      const marker = regressionMarker(cell, METRIC);
      expect(marker.split("\n")).toHaveLength(1);
      expect(marker.indexOf("-->")).toBe(marker.length - 3);
      expect(parseRegressionMarker(`${marker}\nbody`)).toEqual({ cell, metric: METRIC });
    }
  });

  it("is stable: the same cell and metric give the same marker", () => {
    expect(regressionMarker("m/r/b/pi5@stable", METRIC)).toBe(
      "<!-- pte-farm:regression cell=m%2Fr%2Fb%2Fpi5%40stable metric=decode_tokens_per_sec -->",
    );
  });

  it("is read only from the body's first line, so quoted or escaped text cannot forge it", () => {
    const forged = regressionMarker("victim/r/b/pi5@stable", METRIC);
    expect(parseRegressionMarker(`hello\n${forged}`)).toBeNull();
    expect(parseRegressionMarker(escapeInline(forged))).toBeNull();
    expect(parseRegressionMarker(`> ${forged}`)).toBeNull();
    expect(parseRegressionMarker(null)).toBeNull();
  });
});

describe("the regression issue", () => {
  const { records, series, detection, cp } = detected();
  const rerun = history(9, 1, 0, 0.1)[0] as RunRecord;

  it("opens for a drop in a higher-is-better metric, not for a rise", () => {
    expect(isRegression(cp, "higher")).toBe(true);
    expect(isRegression(cp, "lower")).toBe(false);
  });

  it("names the metric, the change and the cell in its title, and carries the labels", async () => {
    const issue = renderRegressionIssue({
      detection,
      changePoint: cp,
      series,
      unit: "tok/s",
      better: "higher",
    });
    expect(issue.title).toMatch(
      /^decode_tokens_per_sec −\d+\.\d% on tiny-llama\/fp32\/portable\/host@stable since 2026-11-21$/,
    );
    expect(issue.labels).toEqual([...REGRESSION_LABELS]);
  });

  it("shows the change point, both medians, the confirmation, a two-line trend and the reproduce command", async () => {
    const knownIssues = (await loadKnownIssues(KNOWN_ISSUES_FILE)).slice(0, 2);
    const issue = renderRegressionIssue({
      detection,
      changePoint: cp,
      series,
      unit: "tok/s",
      better: "higher",
      confirmation: confirm(cp, rerun, METRIC),
      knownIssues,
      runUrl: "https://github.com/o/r/actions/runs/9",
    });
    const body = issue.body;
    expect(parseRegressionMarker(body)).toEqual({ cell: detection.cell, metric: METRIC });
    expect(body).toContain(
      `night of 2026-11-21 at \`${records[20]?.git_sha?.slice(0, 7)}\` (night 21 of 30)`,
    );
    expect(body).toMatch(/- median [\d,]+ → [\d,]+ tok\/s: −\d+\.\d%, p /);
    expect(body).toContain("- confirmation re-run: ");
    expect(body).toContain("is at the new level");
    const chart = body.slice(body.indexOf("```mermaid"), body.indexOf("```", body.indexOf("```mermaid") + 3));
    expect(chart.match(/^ {2}line \[/gm)).toHaveLength(2);
    expect(body).toContain("#### Known issues that may explain it");
    expect(body).toContain(
      "```sh\nnode actions/src/cli/pte-farm.ts run --no-cache --cells tiny-llama/fp32/portable/host@stable\n```",
    );
    expect(githubSize(body)).toBeLessThanOrEqual(COMMENT_BUDGET);
  });

  it("puts the CI of a confirming compare in place of the bare change when there is one", () => {
    const issue = renderRegressionIssue({
      detection,
      changePoint: cp,
      series,
      unit: "tok/s",
      better: "higher",
      comparison: {
        verdict: "regression",
        ratio: 0.9,
        ci: [0.88, 0.92],
        p_value: 0.0001,
        more_samples: 0,
        unit: "tok/s",
        better: "higher",
        method: "unpaired",
        reps: { base: 8, head: 8 },
        excluded: { base: 0, head: 0 },
        min_effect: 0.03,
        note: null,
      },
    });
    expect(issue.body).toContain("−10.0% [−12.0, −8.0]");
  });

  it.skipIf(!hasGfm)(
    "keeps a hostile cell id out of the markup, the title's line and the notifications (cmark-gfm)",
    () => {
      const hostile = "<img src=x onerror=alert(1)> @octocat #1 [x](javascript:y)\n| a |";
      const d = detected(hostile);
      const issue = renderRegressionIssue({
        detection: d.detection,
        changePoint: d.cp,
        series: d.series,
        unit: "tok/s",
        better: "higher",
      });
      expect(issue.title).not.toContain("\n");
      expect(parseRegressionMarker(issue.body)?.cell).toBe(hostile);
      const [html] = renderGfm([issue.body]) as [string];
      expect(html.startsWith("<!-- pte-farm:regression ")).toBe(true);
      expect(tags(html)).not.toContain("img");
      expect(tags(html)).not.toContain("a");
      expect(pings(html)).toEqual([]);
    },
  );
});

describe("the recovery note", () => {
  it("says when and at what level the metric came back", () => {
    const note = renderRecoveryNote({
      cell: "m/r/b/pi5@stable",
      metric: METRIC,
      unit: "tok/s",
      night: { started_at: "2026-12-02T03:00:00.000Z", git_sha: "b".repeat(40), value: 598.4 },
      changePoint: { before_median: 600.1, after_median: 540.3 },
      runUrl: "https://github.com/o/r/actions/runs/10",
    });
    expect(note).toBe(
      "✅ **Recovered.** On the night of 2026-12-02 at `bbbbbbb`, decode\\_tokens\\_per\\_sec on `m/r/b/pi5@stable` " +
        "was 598 tok/s (600 before the regression, 540 during it). Closing; a new regression opens a new issue. " +
        "[Nightly run](https://github.com/o/r/actions/runs/10).\n",
    );
  });
});
