import { describe, expect, it } from "vitest";
import { DEFAULT_COMPARE_CONFIG, loadCompareConfig } from "../actions/src/compare/config.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { failureAnnotations, MAX_ANNOTATIONS_PER_LEVEL } from "../reports/annotations.ts";
import { type CellReport, outcomeOf, reproduceCell, summaryCounts } from "../reports/cell-report.ts";
import { PR_COMMENT_MARKER, renderJobSummary, renderPrComment } from "../reports/pr-comment.ts";
import { COMMENT_BUDGET, GITHUB_BODY_LIMIT, githubSize } from "../reports/size.ts";
import { exampleReport } from "../scripts/example-report.ts";
import { pairedSession } from "../scripts/synthetic-sessions.ts";
import { ADVERSARIAL } from "./helpers/adversarial.ts";
import { hasGfm, pings, renderGfm, tags, textOf } from "./helpers/gfm.ts";
import { record } from "./helpers/records.ts";

const config = await loadCompareConfig(DEFAULT_COMPARE_CONFIG);
const example = await exampleReport();

/** A Pi 5 cell with id `id`, base and head measured in one session, the head slower by `drop`. */
function piCell(id: string, seed: number, drop: number, reps = 16): CellReport {
  const s = pairedSession(seededRng(seed), drop, reps, 600);
  const onPi = (r: RunRecord) => {
    r.cell = { ...r.cell, id, device: "pi5" };
    r.device.board = "raspberry-pi-5-8gb";
    return r;
  };
  const base = onPi(record(s.base, { session: "s1" }));
  base.role = "base";
  const head = onPi(record(s.head, { session: "s1" }));
  return { head, base, comparison: compareRecords(base, head, config) };
}

/** A cell whose execute stage failed, with hostile text everywhere an artefact can put it. */
function hostileFailure(text: string, i: number, logTail: string | null = null): CellReport {
  const head = record([100, 101]);
  head.cell = { ...head.cell, id: `${text}/r/b/pi5@stable#${i}`, model: text };
  head.status = "fail";
  head.gate = null;
  head.metrics = {};
  head.device = { ...head.device, runner: text, board: text, os: text };
  head.toolchain = { name: text, build: { torch: text }, device: { torch: "2.13.0" } };
  head.failure = {
    stage: text,
    outcome: "stage-failure",
    message: text,
    known_issue: text,
    triage: text,
    reproduce: text,
  };
  return { head, logTail };
}

function tableRows(html: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...(m[1] as string).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1] as string),
  );
}

describe("the PR comment", () => {
  const comment = renderPrComment(example);

  it("starts with the sticky-comment marker", () => {
    expect(comment.split("\n")[0]).toBe(PR_COMMENT_MARKER);
    expect(PR_COMMENT_MARKER).toBe("<!-- pte-farm:bench -->");
  });

  it("says how many cells ran, passed and failed their gates, regressed and were inconclusive", () => {
    const line = comment.split("\n").find((l) => l.startsWith("**")) ?? "";
    expect(line).toContain("**6 cells**");
    expect(line).toContain("gates ✅ 3 passed, ❌ 1 failed");
    expect(line).toContain("🔴 1 regression");
    expect(line).toContain("🟡 1 inconclusive");
    expect(line).toContain("💥 1 stage failure");
    expect(line).toContain("⚠️ 1 infrastructure error (not counted as regressions)");
    expect(line).toContain("⏭️ 3 skipped");
  });

  it("shows decode base → head, the change with its CI and the verdict for the regressed cell", () => {
    const row =
      comment.split("\n").find((l) => l.startsWith("| `tiny-llama/8da4w-g32/xnnpack/pi5@stable`")) ?? "";
    expect(row).toMatch(
      /\| ✅ 48\/48 bit-exact \| [\d,]+ → [\d,]+ \| −\d+\.\d% \[−\d+\.\d, −\d+\.\d\] \| 🔴 regression · interleaved \| \d+\.\d% \|/,
    );
  });

  it("says how each cell was decided: an interleaved session's blocks and reps, separate sessions, or identical artefacts", () => {
    const paired = piCell("m/paired/b/pi5@s", 5, 0.1);
    const adaptive = {
      blocks: [10, 6],
      reps_per_side: 16,
      seconds: 412.3,
      budget_s: 1200,
      stopped: "decided" as const,
    };
    paired.comparison = { ...(paired.comparison as NonNullable<CellReport["comparison"]>), adaptive };
    const separate = piCell("m/separate/b/pi5@s", 6, 0.1);
    if (separate.base) separate.base.session = "nightly-1";
    separate.comparison = compareRecords(separate.base as RunRecord, separate.head, config);
    const same = piCell("m/same/b/pi5@s", 7, 0);
    same.comparison = {
      ...(same.comparison as NonNullable<CellReport["comparison"]>),
      paired: false,
      metrics: {},
      identical: { pte_sha256: "ab".repeat(32) },
    };
    const text = renderPrComment({ cells: [paired, separate, same] });
    const row = (id: string) => text.split("\n").find((l) => l.startsWith(`| \`${id}\``)) ?? "";
    expect(row("m/paired/b/pi5@s")).toContain("regression · interleaved");
    expect(row("m/separate/b/pi5@s")).toMatch(/· vs nightly \|/);
    expect(row("m/same/b/pi5@s")).toContain("unchanged — identical artefact");
    expect(text).toContain(
      "how: interleaved (ABBA) with the base build in one session: 16 reps per side in 2 blocks (10 + 6), 412 s; stopped: decided",
    );
    expect(text).toMatch(/how: separate sessions: the head against the cell's newest nightly record/);
    expect(text).toContain(
      "how: base and head .pte are byte-identical: speed unchanged by construction, nothing measured",
    );
  });

  it("draws a mermaid trend for the regressed cell and for no other", () => {
    const charts = comment.split("```mermaid").length - 1;
    expect(charts).toBe(1);
    expect(comment).toContain(
      "`tiny-llama/8da4w-g32/xnnpack/pi5@stable`: decode tok/s, last 14 nightlies on main",
    );
    const withoutRegression = renderPrComment({
      ...example,
      cells: example.cells.filter((c) => outcomeOf(c) !== "regression"),
    });
    expect(withoutRegression).not.toContain("```mermaid");
    // A trend alone draws nothing: the chart is for regressions.
    const trendOnUnchanged = renderPrComment({
      cells: [
        {
          ...piCell("m/r/b/pi5@s", 3, 0),
          trend: [
            { label: "11-01", value: 600 },
            { label: "11-02", value: 601 },
          ],
        },
      ],
    });
    expect(outcomeOf(piCell("m/r/b/pi5@s", 3, 0))).not.toBe("regression");
    expect(trendOnUnchanged).not.toContain("```mermaid");
  });

  it("notes the known issue a failed cell matched, with its workaround", () => {
    expect(comment).toContain("#### Known issues");
    expect(comment).toMatch(
      /\*\*known issue `torchao-quantized-embedding-no-out-variants`\*\*: .* workaround: /,
    );
  });

  it("collapses per-cell details with a one-line reproduce command", () => {
    const details = comment.split("<details><summary><code>").length - 1;
    expect(details).toBe(example.cells.length);
    expect(comment).toContain(
      "```sh\nnode actions/src/cli/pte-farm.ts run --no-cache --cells tiny-llama/8da4w-g32/xnnpack/pi5@stable\n```",
    );
    expect(comment).toContain("RuntimeError: Missing out variants");
  });

  it.skipIf(!hasGfm)("parses as one table of six columns and balanced details (cmark-gfm)", () => {
    const [html] = renderGfm([comment]);
    const rows = tableRows(html as string);
    expect(rows).toHaveLength(example.cells.length);
    for (const r of rows) expect(r).toHaveLength(6);
    const t = tags(html as string);
    expect(t.filter((x) => x === "details")).toHaveLength(t.filter((x) => x === "/details").length);
    expect(pings(html as string)).toEqual([]);
  });
});

describe("hostile artefacts", () => {
  const cells = ADVERSARIAL.map((x, i) => hostileFailure(x, i, `${x}\n${"`".repeat(9)}\n</details>`));
  const comment = renderPrComment({
    cells,
    runUrl: "https://github.com/o/r/actions/runs/1",
    headSha: "abc1234",
  });

  // @fault artefact-hostile | adversarial cell ids and failure texts (HTML, markdown links and images, mentions, code fences, </details>) | the comment, parsed by cmark-gfm, holds none of them
  it.skipIf(!hasGfm)("cannot add elements, links, images or mentions to the comment (cmark-gfm)", () => {
    const [html] = renderGfm([comment]) as [string];
    const allowed = new Set([
      "h3",
      "h4",
      "p",
      "strong",
      "table",
      "thead",
      "tbody",
      "tr",
      "th",
      "td",
      "code",
      "ul",
      "li",
      "details",
      "summary",
      "pre",
      "sub",
      "a",
    ]);
    for (const t of tags(html)) expect(allowed, t).toContain(t.replace("/", ""));
    // The one link is ours: the workflow run.
    expect([...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])).toEqual([
      "https://github.com/o/r/actions/runs/1",
    ]);
    expect(pings(html)).toEqual([]);
    const rows = tableRows(html);
    expect(rows).toHaveLength(cells.length);
    for (const r of rows) expect(r).toHaveLength(6);
    expect(tags(html).filter((x) => x === "details")).toHaveLength(cells.length);
    expect(tags(html).filter((x) => x === "/details")).toHaveLength(cells.length);
    expect(tags(html).filter((x) => x === "pre")).toHaveLength(2 * cells.length);
  });

  it("keeps every table row on one line", () => {
    const lines = comment.split("\n");
    const start = lines.indexOf(
      "| cell | tokens | decode tok/s base → head | change [CI] | verdict | roofline |",
    );
    const end = lines.indexOf("", start);
    const rows = lines.slice(start + 2, end);
    expect(rows).toHaveLength(cells.length);
    for (const row of rows) expect(row).toMatch(/^\| `.*` \| .* \|$/);
  });
});

describe("GitHub's size limit", () => {
  const huge = "错误 😀 ".repeat(200_000);
  const many = Array.from({ length: 400 }, (_, i) => {
    const c = hostileFailure(`模型-${"😀".repeat(30)}-${i}`, i, huge);
    c.head.failure = {
      ...(c.head.failure as NonNullable<RunRecord["failure"]>),
      message: huge,
      triage: huge,
    };
    return c;
  });

  function checkFits(body: string, budget = COMMENT_BUDGET) {
    expect(githubSize(body)).toBeLessThanOrEqual(budget);
    expect(body.length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(Buffer.byteLength(body, "utf8")).toBeLessThan(GITHUB_BODY_LIMIT);
    expect([...body].length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(body.isWellFormed()).toBe(true);
    // Valid UTF-8 both ways: encoding and decoding gives the same text back.
    expect(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(body, "utf8"))).toBe(body);
  }

  // @fault api-size-limits | 400 failed cells with multibyte names and megabytes of error text | the comment is cut to GitHub's body limit in whole rows, valid UTF-8, with a link to the full report
  it("cuts 400 failed cells with multibyte names and megabytes of error text to fit, with a link to the full report", () => {
    const body = renderPrComment({ cells: many, runUrl: "https://github.com/o/r/actions/runs/7" });
    checkFits(body);
    expect(body.startsWith(PR_COMMENT_MARKER)).toBe(true);
    expect(body).toMatch(
      /… \d+ more cells — full report: \[workflow run\]\(https:\/\/github\.com\/o\/r\/actions\/runs\/7\)/,
    );
    expect(body).not.toContain("<details><summary><code>");
  });

  it.skipIf(!hasGfm)("still parses as a complete table when cut (cmark-gfm)", () => {
    const body = renderPrComment({ cells: many, runUrl: "https://github.com/o/r/actions/runs/7" });
    const kept = Number(/… (\d+) more cells/.exec(body)?.[1]);
    const [html] = renderGfm([body]) as [string];
    const rows = tableRows(html);
    expect(rows.length + kept).toBe(many.length);
    for (const r of rows) expect(r).toHaveLength(6);
  });

  it("drops details before table rows", () => {
    const some = many.slice(0, 30);
    const body = renderPrComment({ cells: some });
    checkFits(body);
    expect(body).not.toMatch(/more cells —/);
    expect(body.split("\n").filter((l) => l.startsWith("| `"))).toHaveLength(30);
    const details = body.split("<details><summary><code>").length - 1;
    expect(details).toBeGreaterThan(0);
    expect(details).toBeLessThan(30);
    expect(body).toContain("Some details were left out to fit GitHub's size limit");
  });

  it("fits any budget down to a few rows, cutting only whole rows and blocks", () => {
    let lastRows = Number.POSITIVE_INFINITY;
    for (const budget of [60_000, 20_000, 8_000, 3_000]) {
      const body = renderPrComment({ cells: many }, { budget });
      checkFits(body, budget);
      const rows = body.split("\n").filter((l) => l.startsWith("| `")).length;
      expect(rows).toBeLessThanOrEqual(lastRows);
      expect(rows).toBeGreaterThan(0);
      lastRows = rows;
      // Fences open and close in pairs: nothing was cut inside one.
      expect((body.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
  });

  it("keeps the most urgent cells when it cuts rows", () => {
    const cells = [
      ...Array.from({ length: 300 }, (_, i) => piCell(`m/r/b/pi5@s${i}`, 100 + i, 0)),
      hostileFailure("broken", 0),
    ];
    const body = renderPrComment({ cells }, { budget: 6_000 });
    const firstRow = body.split("\n").find((l) => l.startsWith("| `")) ?? "";
    expect(firstRow).toContain("broken");
  });
});

describe("infrastructure errors", () => {
  const regressed = piCell("m/r/b/pi5@stable", 4, 0.12);
  const gone: CellReport = { ...regressed, head: { ...regressed.head, status: "infra-error" } };

  // @fault infra-not-regression | an infra-error head beside a comparison whose verdict is regression | counted as an infrastructure error, never a regression; no trend chart
  it("are never counted as regressions, even next to a comparison that says regression", () => {
    expect(regressed.comparison?.verdict).toBe("regression");
    const counts = summaryCounts([gone]);
    expect(counts.regressions).toBe(0);
    expect(counts.infraErrors).toBe(1);
    const body = renderPrComment({ cells: [gone] });
    expect(body).toContain("⚠️ infrastructure error, not a regression");
    expect(body).not.toContain("🔴 regression");
    expect(body).not.toContain("```mermaid");
  });

  it("on the base side void the comparison too: no verdict, no change, no regression", () => {
    const baseGone: CellReport = {
      ...regressed,
      base: { ...(regressed.base as RunRecord), status: "infra-error" },
    };
    expect(outcomeOf(baseGone)).toBe("no-base");
    expect(summaryCounts([baseGone]).regressions).toBe(0);
    const row = renderPrComment({ cells: [baseGone] })
      .split("\n")
      .find((l) => l.startsWith("| `m/r/b/pi5@stable`"));
    expect(row).toMatch(/\| — \| no base \|/);
    expect(failureAnnotations([baseGone])).toEqual([]);
  });

  it("show no change column for the head that broke", () => {
    const row = renderPrComment({ cells: [gone] })
      .split("\n")
      .find((l) => l.startsWith("| `m/r/b/pi5@stable`"));
    expect(row).toMatch(/\| — \| ⚠️ infrastructure error, not a regression \|/);
  });

  it("become warnings, never regression errors", () => {
    const notes = failureAnnotations([gone]);
    expect(notes).toHaveLength(1);
    expect(notes[0]?.level).toBe("warning");
    expect(notes[0]?.title).toBe("infrastructure error (infra-error), not a regression: m/r/b/pi5@stable");
  });
});

describe("failure annotations", () => {
  it("makes one per failed gate, failed stage, infrastructure error and regression", () => {
    const notes = failureAnnotations(example.cells);
    expect(notes.map((n) => `${n.level}: ${n.title}`)).toEqual([
      "error: regression: tiny-llama/8da4w-g32/xnnpack/pi5@stable",
      "error: lower failed: tiny-llama/8da4w-g32/portable/pi5@stable",
      "error: gate failed: tiny-llama/8da4w-g32/xnnpack-per-op/pi5@stable",
      "warning: infrastructure error (timeout), not a regression: tiny-llama/fp32/portable/m1@stable",
    ]);
    const gate = notes.find((n) => n.title.startsWith("gate failed"));
    expect(gate?.message).toContain("first divergence: prompt 1, token 17");
    expect(gate?.message).toContain("reproduce: node actions/src/cli/pte-farm.ts run --no-cache --cells");
  });

  it("accepts bare records, and keeps titles on one line", () => {
    const notes = failureAnnotations(ADVERSARIAL.map((x, i) => hostileFailure(x, i).head));
    for (const n of notes) {
      expect(n.title).not.toMatch(/\n/);
      expect(n.title.isWellFormed()).toBe(true);
    }
  });

  it(`shows at most ${MAX_ANNOTATIONS_PER_LEVEL} per level and says how many more there are`, () => {
    const notes = failureAnnotations(Array.from({ length: 25 }, (_, i) => hostileFailure(`m${i}`, i)));
    expect(notes).toHaveLength(MAX_ANNOTATIONS_PER_LEVEL);
    expect(notes.at(-1)?.title).toBe("… and 16 more failures");
  });
});

describe("the job summary", () => {
  it("carries the same summary line and table, without the marker or charts", () => {
    const summary = renderJobSummary(example);
    const comment = renderPrComment(example);
    const table = (s: string) => s.split("\n").filter((l) => l.startsWith("|"));
    expect(table(summary)).toEqual(table(comment));
    expect(summary).not.toContain(PR_COMMENT_MARKER);
    expect(summary).not.toContain("```mermaid");
    expect(summary).toContain("**6 cells**");
  });
});

describe("the reproduce command", () => {
  it("is one shell word per cell id, whatever the id holds", () => {
    expect(reproduceCell("m/r/b/pi5@stable")).toBe(
      "node actions/src/cli/pte-farm.ts run --no-cache --cells m/r/b/pi5@stable",
    );
    expect(reproduceCell("a'b\nc;rm -rf ~")).toBe(
      "node actions/src/cli/pte-farm.ts run --no-cache --cells 'a'\\''b c;rm -rf ~'",
    );
  });
});

it.skipIf(!hasGfm)(
  "the example renders its trend chart as a mermaid block GitHub can draw (cmark-gfm)",
  () => {
    const [html] = renderGfm([renderPrComment(example)]) as [string];
    const mermaid = /<pre lang="mermaid"><code>([\s\S]*?)<\/code><\/pre>/.exec(html)?.[1];
    expect(mermaid).toBeDefined();
    const lines = textOf(mermaid as string)
      .trim()
      .split("\n");
    expect(lines[0]).toBe("xychart-beta");
    expect(lines.find((l) => l.trim().startsWith("line ["))).toMatch(/^ {2}line \[[\d., ]+\]$/);
  },
);

it("uses the caller's reproduce command when given one, still on one line", () => {
  const c = {
    ...piCell("m/r/b/pi5@stable", 4, 0.12),
    reproduce: "make bench CELL=m/r/b/pi5@stable\nrm -rf /",
  };
  const body = renderPrComment({ cells: [c] });
  expect(body).toContain("```sh\nmake bench CELL=m/r/b/pi5@stable rm -rf /\n```");
  expect(failureAnnotations([c])[0]?.message).toContain(
    "reproduce: make bench CELL=m/r/b/pi5@stable rm -rf /",
  );
});

it.skipIf(!hasGfm)("keeps hostile trend labels inside the chart's quoted strings (cmark-gfm)", () => {
  const c = {
    ...piCell("m/r/b/pi5@stable", 4, 0.12),
    trend: ADVERSARIAL.map((label, i) => ({ label, value: 600 + i })),
  };
  const body = renderPrComment({ cells: [c] }, { trendPoints: ADVERSARIAL.length });
  const axis = body.split("\n").find((l) => l.startsWith("  x-axis ")) ?? "";
  expect(axis).toMatch(/^ {2}x-axis \[("[\p{L}\p{N} ._:/+@…-]*"(, )?)+\]$/u);
  const [html] = renderGfm([body]) as [string];
  expect(html.match(/<pre lang="mermaid">/g)).toHaveLength(1);
  expect(pings(html)).toEqual([]);
});

describe("a hub-model cell that could not run", () => {
  const hubId = "gemma-4-e2b/fp32/xnnpack/host-x86_64@stable";
  const twinId = "gemma-4-tiny/fp32/xnnpack/host-x86_64@stable";
  const hub = (): CellReport => {
    const head = record([]);
    head.cell = { ...head.cell, id: hubId, model: "gemma-4-e2b" };
    head.status = "fail";
    head.gate = null;
    head.metrics = {};
    head.twin_cell = twinId;
    head.failure = {
      stage: "reference",
      outcome: "config-error",
      message: "model gemma-4-e2b needs the Hugging Face hub",
      known_issue: null,
      triage: "bad input",
      reproduce: `pte-farm run --cells '${hubId}'`,
    };
    return { head };
  };
  const twin = (): CellReport => {
    const head = record([280, 279, 281]);
    head.cell = { ...head.cell, id: twinId, model: "gemma-4-tiny" };
    return { head };
  };
  const detailsOf = (body: string, id: string) =>
    body.split("<details>").find((d) => d.includes(`<code>${id}</code>`)) ?? "";

  it("points to its twin's result in the same report: outcome, status and decode speed", () => {
    const body = renderPrComment({ cells: [hub(), twin()], dashboardUrl: "https://o.github.io/r/" });
    const line = detailsOf(body, hubId)
      .split("\n")
      .find((l) => l.startsWith("- twin:"));
    expect(line).toContain(`\`${twinId}\``);
    expect(line).toContain("status pass");
    expect(line).toContain("decode 280 tok/s");
    expect(line).toContain("https://o.github.io/r/");
    // The twin's own details point nowhere: it has no twin, and it passed.
    expect(detailsOf(body, twinId)).not.toContain("- twin:");
  });

  it("says how to run the twin when its cell is not in the report, and says nothing once the cell passes", () => {
    const alone = renderPrComment({ cells: [hub()] });
    expect(detailsOf(alone, hubId)).toContain(
      `- twin: \`${twinId}\`, the same architecture shipped, is not in this run: \`pte-farm run --cells '${twinId}'\``,
    );
    const passed = hub();
    passed.head.status = "pass";
    passed.head.failure = null;
    expect(renderPrComment({ cells: [passed] })).not.toContain("- twin:");
  });
});
