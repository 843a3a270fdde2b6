/**
 * `make bench-dashboard` (node scripts/bench-dashboard.ts [--cells 300] [--nights 3334]): the
 * dashboard at farm scale. Generates a history of cells × nights run records (a million by
 * default) in a `dir:` store, builds the site with `pte-farm dashboard build`, then opens the
 * overview and the largest cell page in Debian's Chromium (cold, three times each) and prints:
 * generation and build time, the build's peak memory and CPU time, what each page transfers and
 * when it is interactive (the page's `pte-farm-ready` mark: data loaded, drawn, handlers attached).
 * Each phase runs in its own process, so its peak RSS is its own. The targets (issue 18): build
 * ≤ 60 s and ≤ 1 GB, overview ≤ 2 MB and interactive ≤ 1.5 s, cell page ≤ 1 s.
 */
import { execFile } from "node:child_process";
import { readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { buildDashboard } from "../actions/src/dashboard/build.ts";
import { serveSite } from "../actions/src/dashboard/serve.ts";
import { launchChromium } from "./chromium.ts";
import { scaleHistory } from "./dashboard-histories.ts";
import { writeSyntheticHistory } from "./synthetic-history.ts";

const { values } = parseArgs({
  options: {
    cells: { type: "string", default: "300" },
    nights: { type: "string", default: "3334" },
    phase: { type: "string" },
    part: { type: "string", default: "0/1" },
    dir: { type: "string" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const cells = Number(values.cells);
const nights = Number(values.nights);
const usage = () => {
  const u = process.resourceUsage();
  return { peak_rss_mb: Math.round(u.maxRSS / 1024), cpu_s: (u.userCPUTime + u.systemCPUTime) / 1e6 };
};

async function phase(name: string, args: string[]): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [import.meta.filename, "--phase", name, ...args],
    {
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) as string);
}

if (values.phase === "generate") {
  const [k, n] = (values.part as string).split("/").map(Number) as [number, number];
  const t0 = performance.now();
  const records = await writeSyntheticHistory(
    values.dir as string,
    scaleHistory(cells, nights),
    (i) => i % n === k,
  );
  console.log(JSON.stringify({ records, seconds: (performance.now() - t0) / 1000, ...usage() }));
} else if (values.phase === "build") {
  const t0 = performance.now();
  const r = await buildDashboard({
    history: `dir:${values.dir}`,
    out: values.out as string,
    logger: new RecordingLogger(),
  });
  console.log(
    JSON.stringify({
      cells: r.cells,
      records: r.records,
      seconds: (performance.now() - t0) / 1000,
      ...usage(),
    }),
  );
} else {
  await main();
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir, { recursive: true })) {
    const s = await stat(path.join(dir, f));
    if (s.isFile()) total += s.size;
  }
  return total;
}

async function main(): Promise<void> {
  const root = path.join(os.tmpdir(), `pte-farm-bench-dashboard-${process.pid}`);
  const dir = path.join(root, "history");
  const out = path.join(root, "site");
  const cores = os.availableParallelism();
  console.log(
    `${cores} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}, Node ${process.version}`,
  );
  try {
    const t0 = performance.now();
    const parts = await Promise.all(
      Array.from({ length: cores }, (_, k) =>
        phase("generate", [
          "--dir",
          dir,
          "--cells",
          String(cells),
          "--nights",
          String(nights),
          "--part",
          `${k}/${cores}`,
        ]),
      ),
    );
    const records = parts.reduce((a, p) => a + (p.records ?? 0), 0);
    const gen = (performance.now() - t0) / 1000;
    const disk = await sizeOf(dir);
    console.log(
      `generate: ${records.toLocaleString("en")} records (${cells} cells × ${nights} nights) in ${gen.toFixed(1)} s by ${cores} processes, ` +
        `${(disk / 1e9).toFixed(2)} GB of month files; peak RSS per process ${Math.max(...parts.map((p) => p.peak_rss_mb ?? 0))} MB`,
    );
    const b = await phase("build", ["--dir", dir, "--out", out]);
    console.log(
      `build: ${b.cells} cells, ${(b.records ?? 0).toLocaleString("en")} records in ${(b.seconds ?? 0).toFixed(1)} s ` +
        `(${(b.cpu_s ?? 0).toFixed(1)} s of CPU); peak RSS ${b.peak_rss_mb} MB; site ${((await sizeOf(out)) / 1e6).toFixed(1)} MB`,
    );
    await browse(out);
  } finally {
    if (!values.keep) await rm(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
}

async function browse(out: string): Promise<void> {
  const { server, url } = await serveSite(out);
  const browser = await launchChromium();
  const cellsDir = path.join(out, "data", "cells");
  let largest = { file: "", size: 0 };
  for (const f of await readdir(cellsDir)) {
    const s = (await stat(path.join(cellsDir, f))).size;
    if (s > largest.size) largest = { file: f, size: s };
  }
  const overview = await import("node:fs/promises").then((fs) =>
    fs.readFile(path.join(out, "data", "overview.js"), "utf8"),
  );
  const key = largest.file.replace(/\.js$/, "");
  const id =
    (
      JSON.parse(overview.slice(overview.indexOf(",") + 1, overview.lastIndexOf(")"))) as {
        cells: { id: string; key: string }[];
      }
    ).cells.find((c) => c.key === key)?.id ?? "";
  try {
    for (const [name, page, target] of [
      ["overview", "index.html", 1500],
      [
        `cell page (${id}, ${(largest.size / 1e3).toFixed(0)} kB of data)`,
        `cell.html?cell=${encodeURIComponent(id)}`,
        1000,
      ],
    ] as const) {
      const runs: { ms: number; bytes: number; gzip: number }[] = [];
      for (let i = 0; i < 3; i++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const p = await context.newPage();
        let bytes = 0;
        let gzip = 0;
        p.on("response", async (r) => {
          const body = await r.body().catch(() => Buffer.alloc(0));
          bytes += body.length;
          gzip += gzipSync(body).length;
        });
        await p.goto(new URL(page, url).href, { waitUntil: "load" });
        await p.waitForSelector("body[data-ready=true]");
        const ms = await p.evaluate(
          () => (performance.getEntriesByName("pte-farm-ready")[0] as { startTime: number }).startTime,
        );
        await p.waitForLoadState("networkidle");
        runs.push({ ms, bytes, gzip });
        await context.close();
      }
      const med = (xs: number[]) => xs.toSorted((a, b) => a - b)[1] as number;
      const ms = med(runs.map((r) => r.ms));
      console.log(
        `${name}: ${(med(runs.map((r) => r.bytes)) / 1e3).toFixed(0)} kB transferred uncompressed ` +
          `(${(med(runs.map((r) => r.gzip)) / 1e3).toFixed(0)} kB gzipped, as GitHub Pages serves it); interactive in ${ms.toFixed(0)} ms ` +
          `(median of 3 cold loads; target ${target} ms)`,
      );
    }
  } finally {
    await browser.close();
    server.close();
  }
}
