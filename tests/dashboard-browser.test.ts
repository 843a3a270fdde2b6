/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against a site
 * built once from the example history (scripts/dashboard-histories.ts exampleHistory: every state,
 * a confirmed and a candidate regression at known nights, a hostile model name and error text).
 * Screenshots are kept in out/test-artifacts/dashboard/ (gitignored) for a person to look at.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { buildDashboard } from "../actions/src/dashboard/build.ts";
import { serveSite } from "../actions/src/dashboard/serve.ts";
import { exampleHistory, HOSTILE_MESSAGE, HOSTILE_MODEL } from "../scripts/dashboard-histories.ts";
import { writeSyntheticHistory } from "../scripts/synthetic-history.ts";
import { hasChromium, launchChromium } from "./helpers/browser.ts";

/** The DOM the page functions below touch (the project's tsconfig has no DOM lib: these run in Chromium). */
interface DomEl {
  dataset: Record<string, string | undefined>;
  style: { left: string };
  hidden: boolean;
  textContent: string | null;
  value: string;
  cellIndex: number;
  parentElement: DomEl | null;
  tHead: { rows: { cells: DomEl[] }[] } | null;
  querySelector(selector: string): DomEl | null;
  getAttribute(name: string): string | null;
  closest(selector: string): DomEl | null;
}
type Chart = { valToPos(v: number, scale: string): number; scales: { x: { min: number; max: number } } };
type Axe = { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> };
declare const document: {
  activeElement: DomEl | null;
  documentElement: { scrollWidth: number };
  querySelector(s: string): DomEl | null;
};
declare const window: {
  innerWidth: number;
  pteFarmCharts: Record<string, Chart>;
  __pwned?: number;
  axe: Axe;
};

const ARTIFACTS = path.join(REPO_ROOT, "out", "test-artifacts", "dashboard");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const REGRESSED = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";
const CANDIDATE = "tiny-llama/8da4w-g32/xnnpack/m1@stable";
const HOSTILE = `${HOSTILE_MODEL}/fp32/portable/host-x86_64@stable`;

let root: string;
let site: string;
let url: string;
let close: () => void;
let browser: Browser;
let context: BrowserContext;
/** Every console error and uncaught exception of every page, by page URL. */
const problems: string[] = [];

async function open(pathAndQuery: string, ctx: BrowserContext = context): Promise<Page> {
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning")
      problems.push(`${pathAndQuery}: ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${pathAndQuery}: ${e.message}`));
  await page.goto(new URL(pathAndQuery, url).href);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** What the overview shows: cell id → its square's state and text. */
const squares = (page: Page) =>
  page.$$eval("a.sq", (as) =>
    Object.fromEntries(
      as.map((a) => [a.getAttribute("data-cell"), [a.getAttribute("data-state"), a.textContent]]),
    ),
  );

// The site is built and the browser started once, for every test below (they only read them).
describe.skipIf(!hasChromium)("the dashboard in Chromium", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "pte-farm-dash-ui-"));
    site = path.join(root, "site");
    await mkdir(ARTIFACTS, { recursive: true });
    await writeSyntheticHistory(path.join(root, "history"), exampleHistory());
    await buildDashboard({
      history: `dir:${path.join(root, "history")}`,
      out: site,
      repoUrl: "https://github.com/org/farm",
      logger: new RecordingLogger(),
    });
    const served = await serveSite(site);
    url = served.url;
    close = () => served.server.close();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    close?.();
    await rm(root, { recursive: true, force: true });
  });

  it("shows each cell's state in its square, in words as well as colour, with the counts on top", async () => {
    const page = await open("index.html");
    const shown = await squares(page);
    expect(Object.keys(shown)).toHaveLength(exampleHistory().cells.length);
    expect(shown[REGRESSED]).toEqual(["regression", "▼ −9.9% decode, confirmed"]);
    expect(shown[CANDIDATE]).toEqual(["regression", "▼ −12.1% decode, candidate"]);
    expect(shown["tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable"]).toEqual([
      "gate-failed",
      "✗ diverged at token 17",
    ]);
    expect(shown["tiny-llama/8da4w-g32/xnnpack/pi5@latest"]).toEqual([
      "stage-failed",
      "✗ lower failed (known)",
    ]);
    expect(shown["tiny-llama/fp32/portable/pi5@stable"]).toEqual(["infra", "⚠ infra-error"]);
    expect(shown["opt-125m/fp32/ethos-u/corstone-fvp@stable"]).toEqual(["quarantined", "⊘ quarantined"]);
    expect(shown["tiny-llama/fp32/portable/m1@stable"]).toEqual(["inconclusive", "? no clean reps"]);
    expect(shown["opt-125m/fp32/portable/host-x86_64@stable"]).toEqual(["skipped", "– last ran 2026-11-26"]);
    expect(shown["tiny-llama/8da4w-g32/xnnpack/pi5-emu@stable"]).toEqual(["pass", "✓ pass (emulated)"]);
    // The square sits in its model/recipe/backend row and device@toolchain column.
    const where = await page.$eval(`a.sq[data-cell="${REGRESSED}"]`, (a) => {
      const td = a.closest("td") as DomEl;
      const table = a.closest("table") as DomEl;
      const col = table.tHead?.rows[0]?.cells[td.cellIndex]?.textContent;
      return [td.parentElement?.querySelector("th")?.textContent, col];
    });
    expect(where).toEqual(["tiny-llama/8da4w-g32/xnnpack", "pi5@stable"]);
    expect(await page.textContent("#count-regression")).toBe("▼ regression: 2");
    expect(await page.textContent("#count-pass")).toBe("✓ pass: 6");
    await shot(page, "overview");
  });

  it("narrows the squares by device and state, holds the filters in the URL, and a link restores them", async () => {
    const page = await open("index.html");
    await page.selectOption("#filter-device", "pi5");
    expect(Object.keys(await squares(page)).sort()).toEqual([
      "tiny-llama/8da4w-g32/xnnpack/pi5@latest",
      REGRESSED,
      "tiny-llama/fp32/portable/pi5@stable",
    ]);
    await page.click("#count-regression");
    expect(Object.keys(await squares(page))).toEqual([REGRESSED]);
    expect(new URL(page.url()).search).toBe("?device=pi5&state=regression");
    // The device filter's options count what the state filter leaves.
    expect(await page.$eval("#filter-device option[value=m1]", (o) => o.textContent)).toBe("m1 (1)");
    const again = await open(`index.html${new URL(page.url()).search}`);
    expect(Object.keys(await squares(again))).toEqual([REGRESSED]);
    expect(await again.$eval("#filter-device", (s) => (s as DomEl).value)).toBe("pi5");
    expect(await again.getAttribute("#count-regression", "aria-pressed")).toBe("true");
  });

  it("moves between squares with the arrow keys and opens one with Enter", async () => {
    const page = await open("index.html?toolchain=stable&model=tiny-llama");
    await page.focus("a.sq[tabindex='0']");
    const active = () => page.evaluate(() => document.activeElement?.getAttribute("data-cell"));
    const first = await active();
    await page.keyboard.press("ArrowDown");
    const second = await active();
    expect(second).not.toBe(first);
    expect(await page.$$eval("a.sq[tabindex='0']", (as) => as.length)).toBe(1);
    await page.keyboard.press("ArrowRight");
    const third = await active();
    expect(third).not.toBe(second);
    expect(third?.split("/").slice(0, 3)).toEqual(second?.split("/").slice(0, 3)); // the same row
    await Promise.all([page.waitForURL(/cell\.html/), page.keyboard.press("Enter")]);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("#cell-id")).toBe(third);
  });

  it("opens a cell from its square, with the change point marked on the chart at the night it began", async () => {
    const page = await open("index.html");
    await Promise.all([page.waitForURL(/cell\.html/), page.click(`a.sq[data-cell="${REGRESSED}"]`)]);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("#cell-id")).toBe(REGRESSED);
    const row = await page.$eval("tr[data-metric=decode_tokens_per_sec]", (tr) => [
      tr.getAttribute("data-night"),
      tr.textContent,
    ]);
    expect(row[0]).toBe("2026-10-28");
    expect(row[1]).toContain("regression, confirmed");
    // On the chart: the mark's x is where uPlot's scale puts that night.
    const mark = await page.evaluate(() => {
      const fig = document.querySelector("figure[data-metric=decode_tokens_per_sec]") as DomEl;
      const m = fig.querySelector(".mark.confirmed") as DomEl;
      const u = (
        window as unknown as { pteFarmCharts: Record<string, { valToPos(v: number, s: string): number }> }
      ).pteFarmCharts.decode_tokens_per_sec;
      return {
        night: m.dataset.night,
        left: Number.parseFloat(m.style.left),
        want: u?.valToPos(Date.parse("2026-10-28T02:23:35Z") / 1000, "x"),
        hidden: m.hidden,
        text: m.textContent,
      };
    });
    expect(mark).toMatchObject({ night: "2026-10-28", hidden: false, text: "▼ confirmed −9.9%" });
    expect(mark.left).toBeCloseTo(mark.want as number, 0);
    expect(
      await page.$$eval("figure[data-metric=decode_tokens_per_sec] .mark.toolchain", (ms) =>
        ms.map((m) => m.getAttribute("data-night")),
      ),
    ).toEqual(["2026-11-17"]);
    expect(await page.$$eval("figure.chart", (fs) => fs.map((f) => f.getAttribute("data-metric")))).toEqual([
      "decode_tokens_per_sec",
      "prefill_tokens_per_sec",
      "first_token_ms",
      "peak_rss_mb",
    ]);
    await shot(page, "cell");
    const candidate = await open(`cell.html?cell=${encodeURIComponent(CANDIDATE)}`);
    expect(
      await candidate.$eval("figure[data-metric=decode_tokens_per_sec] .mark", (m) => [
        m.getAttribute("data-night"),
        m.getAttribute("data-kind"),
      ]),
    ).toEqual(["2026-11-27", "candidate"]);
  });

  it("restores a cell page's time range from its link", async () => {
    const page = await open(`cell.html?cell=${encodeURIComponent(REGRESSED)}&range=90`);
    expect(await page.getAttribute("button[data-range='90']", "aria-pressed")).toBe("true");
    const span = await page.evaluate(() => {
      const u = (
        window as unknown as {
          pteFarmCharts: Record<string, { scales: { x: { min: number; max: number } } }>;
        }
      ).pteFarmCharts.decode_tokens_per_sec;
      return u ? (u.scales.x.max - u.scales.x.min) / 86400 : null;
    });
    expect(span).toBeCloseTo(90, 0);
    // The 2026-10-28 step is 40 nights old: still in view; an older night is not.
    expect(await page.$eval(".mark.confirmed", (m) => (m as DomEl).hidden)).toBe(false);
    await page.click("button[data-range=all]");
    expect(new URL(page.url()).searchParams.get("range")).toBeNull();
  });

  it("shows a hostile model name and error text as text: no element, no script run", async () => {
    const overview = await open(`index.html?model=${encodeURIComponent(HOSTILE_MODEL)}`);
    expect(await overview.$eval("table.grid tbody th", (th) => th.textContent)).toBe(
      `${HOSTILE_MODEL}/fp32/portable`,
    );
    await overview.hover(`a.sq[data-state=gate-failed]`);
    const cell = await open(`cell.html?cell=${encodeURIComponent(HOSTILE)}`);
    expect(await cell.textContent("#cell-id")).toBe(HOSTILE);
    expect(await cell.textContent("#detail")).toContain(HOSTILE_MESSAGE);
    for (const page of [overview, cell]) {
      expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
      expect(await page.$$eval("main img, main script", (es) => es.length)).toBe(0);
    }
    await shot(cell, "hostile");
  });

  it("shows farm-upstream's channels, canaries and bisections, each bisection also on its cell's page", async () => {
    const page = await open("upstream.html");
    expect(await page.textContent("tr[data-toolchain=latest]")).toContain("✗ 1 stage failed");
    // The canary that stopped reproducing on `latest` says so, beside the one still reproducing.
    const canary = (toolchain: string) =>
      page.textContent(`tr[data-issue=torchao-cpu-int4-removed][data-toolchain=${toolchain}]`);
    expect(await canary("latest")).toContain("✓ no longer reproduces: possibly fixed upstream");
    expect(await canary("latest")).toContain("2026-11-25");
    expect(await canary("stable")).toContain("✗ reproduces");
    const rows = await page.$$eval("tr[data-verdict]", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-verdict"), tr.getAttribute("data-cell")]),
    );
    expect(rows).toEqual([
      ["inconclusive-infrastructure", HOSTILE],
      ["found", "tiny-llama/8da4w-g32/xnnpack/pi5@latest"],
      ["interaction", ""],
    ]);
    expect(await page.textContent("tr[data-verdict=found]")).toContain(
      "executorch 1.5.1 first breaks it; last good executorch 1.5.0",
    );
    // The hostile bisection's subject and evidence are text; nothing of them ran.
    expect(await page.textContent("tr[data-verdict=inconclusive-infrastructure]")).toContain(HOSTILE_MESSAGE);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    expect(await page.$$eval("main img, main script", (es) => es.length)).toBe(0);
    await shot(page, "upstream");
    // A bisected cell's link opens its page, which lists the bisection.
    await Promise.all([page.waitForURL(/cell\.html/), page.click("tr[data-verdict=found] a")]);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("tr[data-verdict=found]")).toContain("executorch 1.5.1 first breaks it");
    const canaryCell = await open(
      `cell.html?cell=${encodeURIComponent("tiny-llama/int4-weight-only/xnnpack/host-x86_64@latest")}`,
    );
    expect(await canaryCell.textContent("#canary")).toContain("possibly fixed upstream since 2026-11-25");
  });

  it("opens from disk (file://) as well as from a server", async () => {
    const page = await context.newPage();
    await page.goto(pathToFileURL(path.join(site, "index.html")).href);
    await page.waitForSelector("body[data-ready=true]");
    expect(Object.keys(await squares(page))).toHaveLength(exampleHistory().cells.length);
    await page.close();
  });

  it("fits a phone's width, and the devices and releases pages show quarantine, heat and .pte files", async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const page = await open("index.html", phone);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(
      true,
    );
    await shot(page, "overview-phone");
    const cell = await open(`cell.html?cell=${encodeURIComponent(REGRESSED)}`, phone);
    expect(await cell.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(
      true,
    );
    await phone.close();
    const devices = await open("devices.html");
    expect(await devices.getAttribute("tr[data-device=corstone-fvp]", "data-quarantined")).toBe("true");
    expect(await devices.textContent("tr[data-device=corstone-fvp]")).toContain("health check bad");
    expect(await devices.$$eval("figure.chart canvas", (c) => c.length)).toBeGreaterThan(0);
    await shot(devices, "devices");
    const releases = await open("releases.html");
    expect(await releases.$$eval("section[data-commit]", (s) => s.length)).toBe(4);
  });

  it("passes an axe-core scan with no serious or critical violation, light and dark", async () => {
    // The pages' CSP refuses inline scripts, which is how axe is injected: this context bypasses it.
    const scan = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const found: string[] = [];
    for (const scheme of ["light", "dark"] as const) {
      await scan.newPage().then((p) => p.close());
      for (const page of [
        "index.html",
        `cell.html?cell=${encodeURIComponent(REGRESSED)}`,
        "devices.html",
        "releases.html",
        "upstream.html",
        `cell.html?cell=${encodeURIComponent("tiny-llama/8da4w-g32/xnnpack/pi5@latest")}`,
      ]) {
        const p = await open(page, scan);
        await p.emulateMedia({ colorScheme: scheme });
        await p.addScriptTag({ path: AXE });
        const violations = await p.evaluate(async () => {
          const axe = (
            window as unknown as {
              axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> };
            }
          ).axe;
          return (await axe.run()).violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            nodes: v.nodes.length,
          }));
        });
        for (const v of violations)
          if (v.impact === "serious" || v.impact === "critical")
            found.push(`${scheme} ${page}: ${v.id} (${v.impact}, ${v.nodes} nodes)`);
        if (scheme === "dark" && page === "index.html") await shot(p, "overview-dark");
      }
    }
    await scan.close();
    expect(found).toEqual([]);
  });

  it("logged no console error or uncaught exception on any page", () => {
    expect(problems).toEqual([]);
  });
});
