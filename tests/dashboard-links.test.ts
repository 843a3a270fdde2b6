/**
 * The PR comment and the nightly regression issue link each cell to its dashboard page when the
 * farm has a dashboard (the report action's `dashboard-url`, from PTE_FARM_DASHBOARD_URL), and
 * not otherwise; the cell id is encoded and the base must be an http(s) URL.
 */
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { cellPageUrl } from "../reports/dashboard/links.ts";
import { renderPrComment } from "../reports/pr-comment.ts";
import { renderRegressionIssue } from "../reports/regression-issue.ts";
import { exampleReport } from "../scripts/example-report.ts";

const BASE = "https://org.github.io/farm/";

describe("links to the dashboard", () => {
  it("encode the cell id into the cell page's query, and refuse a base that is not http(s)", () => {
    expect(cellPageUrl(BASE, "tiny-llama/8da4w-g32/xnnpack/pi5@stable")).toBe(
      "https://org.github.io/farm/cell.html?cell=tiny-llama%2F8da4w-g32%2Fxnnpack%2Fpi5%40stable",
    );
    expect(cellPageUrl(BASE, "a(b)/r/b/d@t")).not.toMatch(/[()]/);
    expect(cellPageUrl("", "a/b/c/d@e")).toBeNull();
    expect(cellPageUrl(null, "a/b/c/d@e")).toBeNull();
    expect(() => cellPageUrl("javascript:alert(1)//", "a/b/c/d@e")).toThrow(ConfigurationError);
  });

  it("appear in each cell's details of the PR comment only when a dashboard is configured", async () => {
    const report = await exampleReport();
    const without = renderPrComment(report);
    expect(without).not.toContain("farm dashboard");
    const withLinks = renderPrComment({ ...report, dashboardUrl: BASE });
    const cells = report.cells.map((c) => c.head.cell.id);
    for (const id of cells)
      expect(withLinks).toContain(`(https://org.github.io/farm/cell.html?cell=${encodeURIComponent(id)})`);
  });

  it("appear in a regression issue's facts", () => {
    const cell = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";
    const cp = {
      index: 20,
      started_at: "2026-10-28T02:23:00.000Z",
      git_sha: "a".repeat(40),
      before_median: 25,
      after_median: 22.5,
      ratio: 0.9,
      p_value: 0.001,
      confirmed: false as const,
    };
    const series = Array.from({ length: 30 }, (_, i) => ({
      value: i < 20 ? 25 : 22.5,
      samples: [i < 20 ? 25 : 22.5],
      started_at: new Date(Date.UTC(2026, 9, 8 + i, 2, 23)).toISOString(),
      git_sha: null,
      session: `s${i}`,
    }));
    const issue = (dashboardUrl: string | null) =>
      renderRegressionIssue({
        detection: { cell, metric: "decode_tokens_per_sec", nights: 30, noise_floor: null },
        changePoint: cp,
        series,
        unit: "tok/s",
        better: "higher",
        dashboardUrl,
      }).body;
    expect(issue(BASE)).toContain(`[this cell on the farm dashboard](${cellPageUrl(BASE, cell)})`);
    expect(issue(null)).not.toContain("farm dashboard");
  });
});
