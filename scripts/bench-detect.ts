/**
 * `node scripts/bench-detect.ts`: detect and the history report at scale. A synthetic history of
 * 100,000 `pte-farm/run@1` records (100 cells × 1,000 nights, 8 reps each) is generated as JSON
 * text one cell at a time, as a history store hands a cell's history over (detect works per cell;
 * holding the whole store in memory would only measure the generator); then, timed (generation
 * excluded): every record parsed and validated
 * against the run-record schema, grouped into per-cell series, change points found, the noise
 * floor computed and the markdown report rendered. Reading the store's files is the store's
 * concern (not timed here). One cell in five has a real step (5–12%), one in five a single
 * outlier night; the script checks what it found against that.
 */
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { cellSeries, type Detection, detectSeries } from "../actions/src/compare/detect.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parse } from "../actions/src/core/validate.ts";
import { type RunRecord, runRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { renderHistoryReport } from "../reports/compare.ts";

const CELLS = 100;
const NIGHTS = 1000;
const REPS = 8;
const METRIC = "decode_tokens_per_sec";

let peakRss = process.memoryUsage().rss;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

const template = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "tests", "fixtures", "run-records", "host-fp32-portable.json"), "utf8"),
) as RunRecord;
// A lean nightly record: the fields detect reads are real; tokens and stage lists are empty.
template.tokens = [];
template.stages = [];
template.telemetry = { samples: [] };

interface Truth {
  step: number | null;
  outlier: number | null;
}

const rng = seededRng(2026);
const truth: Truth[] = [];

/** One cell's 1,000 nightly records as JSON text, the way the store hands a cell's history over. */
function generateCell(c: number): string[] {
  {
    const kind = c % 5;
    const step = kind === 0 ? 100 + rng.int(NIGHTS - 200) : null;
    const drop = rng.uniform(0.05, 0.12);
    const outlier = kind === 1 ? rng.int(NIGHTS) : null;
    truth.push({ step, outlier });
    const cellTexts: string[] = [];
    const level0 = rng.uniform(1, 30);
    for (let n = 0; n < NIGHTS; n++) {
      let level = level0 * (1 + 0.01 * rng.normal());
      if (step !== null && n >= step) level *= 1 - drop;
      if (n === outlier) level *= 0.7;
      const metric = (unit: string, better: string, f: number) => ({
        unit,
        better,
        samples: Array.from({ length: REPS }, () => +(f * level * (1 + 0.02 * rng.normal())).toFixed(4)),
        sample_flags: Array.from({ length: REPS }, () => (rng.next() < 0.03 ? ["throttled"] : [])),
      });
      const rec = {
        ...template,
        cell: {
          ...template.cell,
          id: `model-${c}/fp32/xnnpack/pi5@stable`,
          model: `model-${c}`,
          device: "pi5",
        },
        session: `night-${n}`,
        role: "nightly",
        git_sha: `${c.toString(16).padStart(4, "0")}${n.toString(16).padStart(36, "0")}`,
        started_at: new Date(Date.UTC(2024, 0, 1) + n * 86_400_000).toISOString(),
        metrics: {
          [METRIC]: metric("tok/s", "higher", 1),
          prefill_tokens_per_sec: metric("tok/s", "higher", 5),
          first_token_ms: metric("ms", "lower", 1000 / level0),
          pte_bytes: { unit: "B", better: "lower", samples: [1234567] },
        },
      };
      cellTexts.push(JSON.stringify(rec));
    }
    return cellTexts;
  }
}

let genMs = 0;
let bytes = 0;
const start = performance.now();
const detections: Detection[] = [];
let parseMs = 0;
for (let c = 0; c < CELLS; c++) {
  const g0 = performance.now();
  const cellTexts = generateCell(c);
  bytes += cellTexts.reduce((b, s) => b + s.length, 0);
  genMs += performance.now() - g0;
  const t0 = performance.now();
  const records = cellTexts.map((t, i) => parse(runRecord, JSON.parse(t), `history record ${i}`));
  parseMs += performance.now() - t0;
  const id = records[0]?.cell.id as string;
  detections.push(detectSeries(cellSeries(records, id, METRIC), id, METRIC));
  sampleRss();
}
const report = renderHistoryReport(detections);
const totalS = (performance.now() - start - genMs) / 1000;
const genS = genMs / 1000;
sampleRss();
const maxRssMb = process.resourceUsage().maxRSS / 1024;

let found = 0;
let offBy = 0;
let falseCps = 0;
let outlierCps = 0;
detections.forEach((d, c) => {
  const t = truth[c] as Truth;
  if (t.step !== null) {
    const hit = d.change_points.find((cp) => Math.abs(cp.index - (t.step as number)) <= 3);
    if (hit) {
      found++;
      offBy += Math.abs(hit.index - t.step);
    }
    falseCps += d.change_points.length - (hit ? 1 : 0);
  } else {
    falseCps += d.change_points.length;
    if (t.outlier !== null) outlierCps += d.change_points.length;
  }
});
const steps = truth.filter((t) => t.step !== null).length;
const outliers = truth.filter((t) => t.outlier !== null).length;
const reportFile = path.join(tmpdir(), "pte-farm-bench-detect-report.md");
await writeFile(reportFile, `${report}\n`);

console.log(
  `Synthetic history: ${CELLS} cells × ${NIGHTS} nights = ${(CELLS * NIGHTS).toLocaleString("en")} run records ` +
    `(${(bytes / 1e6).toFixed(0)} MB of JSON, generated one cell at a time in ${genS.toFixed(1)} s, not timed); Node ${process.versions.node}\n`,
);
console.log("| step | value |");
console.log("|---|---:|");
console.log(`| parse + validate 100,000 records | ${(parseMs / 1000).toFixed(2)} s |`);
console.log(
  `| series + change points + noise floor + report (100 cells) | ${(totalS - parseMs / 1000).toFixed(2)} s |`,
);
console.log(`| **total wall time** | **${totalS.toFixed(2)} s** |`);
console.log(`| peak RSS (memoryUsage high-water) | ${(peakRss / 2 ** 20).toFixed(0)} MB |`);
console.log(`| peak RSS (resourceUsage maxRSS) | ${maxRssMb.toFixed(0)} MB |`);
console.log(
  `\nsteps found ${found}/${steps} (within 3 nights, mean offset ${(offBy / Math.max(found, 1)).toFixed(1)}); ` +
    `change points on single outlier nights ${outlierCps} (in ${outliers} cells); other spurious change points ${falseCps - outlierCps}`,
);
console.log(
  `targets: ≤5 s, ≤512 MB. Report (${detections.length} rows) written to ${reportFile}; first rows:\n`,
);
console.log(report.split("\n").slice(0, 7).join("\n"));
