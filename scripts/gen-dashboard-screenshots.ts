/**
 * `node scripts/gen-dashboard-screenshots.ts [--check]` (make readme-dashboard): the README's
 * screenshots of the dashboard, docs/dashboard/overview.png and cell.png, taken in Chromium from a
 * site built from the example history (scripts/dashboard-histories.ts exampleHistory), so what the
 * README shows is what the code draws.
 *
 * Staleness is judged by what the screenshots are made from, not by their pixels (fonts and
 * anti-aliasing differ between machines, so two honest screenshots of one page rarely match):
 * docs/dashboard/screenshots.json holds a hash of the built site — its pages, scripts, styles, uPlot
 * and every data file, less the build time and the store's path. A change to the history generator,
 * the digest, the states or the site changes the hash; `--check` then exits 1 (a test runs it).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { buildDashboard } from "../actions/src/dashboard/build.ts";
import { serveSite } from "../actions/src/dashboard/serve.ts";
import { launchChromium } from "./chromium.ts";
import { exampleHistory } from "./dashboard-histories.ts";
import { writeSyntheticHistory } from "./synthetic-history.ts";

export const SHOTS_DIR = path.join(REPO_ROOT, "docs", "dashboard");
export const STAMP = path.join(SHOTS_DIR, "screenshots.json");
export const REGRESSED = "tiny-llama/8da4w-g32/xnnpack/pi5@stable";

/** The hash of a built site's content: every file, with the build time and store path left out. */
export async function siteHash(site: string): Promise<string> {
  const hash = createHash("sha256");
  const files = (await readdir(site, { recursive: true }))
    .filter((f) => /\.(js|css|html|json)$/.test(f))
    .sort();
  for (const f of files) {
    const text = (await readFile(path.join(site, f), "utf8")).replace(
      /"generated_at":"[^"]*","store":"[^"]*"/,
      "",
    );
    hash.update(`${f.split(path.sep).join("/")}\0${text}\0`);
  }
  return hash.digest("hex");
}

/** Builds the example site into `root` and returns its folder. */
export async function exampleSite(root: string): Promise<string> {
  await writeSyntheticHistory(path.join(root, "history"), exampleHistory());
  const site = path.join(root, "site");
  await buildDashboard({
    history: `dir:${path.join(root, "history")}`,
    out: site,
    repoUrl: "https://github.com/example/pte-farm",
    logger: new RecordingLogger(),
  });
  return site;
}

async function screenshots(site: string): Promise<void> {
  const { server, url } = await serveSite(site);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, colorScheme: "light" });
    await mkdir(SHOTS_DIR, { recursive: true });
    for (const [name, rel] of [
      ["overview", "index.html"],
      ["cell", `cell.html?cell=${encodeURIComponent(REGRESSED)}&range=365`],
    ] as const) {
      await page.goto(new URL(rel, url).href);
      await page.waitForSelector("body[data-ready=true]");
      await page.screenshot({ path: path.join(SHOTS_DIR, `${name}.png`), fullPage: name === "overview" });
    }
  } finally {
    await browser.close();
    server.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { check: { type: "boolean", default: false } } });
  const root = await mkdtemp(path.join(os.tmpdir(), "pte-farm-shots-"));
  try {
    const site = await exampleSite(root);
    const hash = await siteHash(site);
    if (values.check) {
      const stamp = JSON.parse(await readFile(STAMP, "utf8").catch(() => "{}")) as { site_sha256?: string };
      if (stamp.site_sha256 !== hash) {
        process.stderr.write(
          `the dashboard screenshots are stale (the site they show has changed); run make readme-dashboard\n`,
        );
        return 1;
      }
      process.stdout.write("the dashboard screenshots are up to date\n");
      return 0;
    }
    await screenshots(site);
    await writeFile(
      STAMP,
      `${JSON.stringify({ site_sha256: hash, made_by: "make readme-dashboard" }, null, 2)}\n`,
    );
    process.stdout.write(
      `wrote ${path.relative(REPO_ROOT, SHOTS_DIR)}/overview.png, cell.png and screenshots.json\n`,
    );
    return 0;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(err instanceof ConfigurationError ? 2 : 3);
    },
  );
}
