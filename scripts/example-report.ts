/**
 * The example bench report the README shows, built the way the report job builds one: run records
 * (the real host record in tests/fixtures/run-records, and records derived from it for a Pi 5 and
 * an M1), compared by the real compareRecords with matrix/compare.yml, trends from the real
 * cellSeries over derived nightly records, a failure triaged by the real triage() against
 * matrix/known-issues.yml, a gate verdict from the real gate() with the shipped tokenizer's
 * pieces, and skipped cells from the real nightly plan of matrix/farm.yml. Every record passes the
 * run-record schema. Decode samples come from the seeded Pi 5 session model the compare tests use.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadCompareConfig } from "../actions/src/compare/config.ts";
import { cellSeries } from "../actions/src/compare/detect.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { DEFAULT_MATRIX, KNOWN_ISSUES_FILE, REPO_ROOT } from "../actions/src/core/paths.ts";
import { parse } from "../actions/src/core/validate.ts";
import { gateTokens } from "../actions/src/gate/finish.ts";
import { reproduceCommand, triage } from "../actions/src/pipeline/triage.ts";
import { roofline } from "../actions/src/records/roofline.ts";
import { cleanSamples, median } from "../actions/src/records/samples.ts";
import { cellId } from "../actions/src/schemas/cell-id.ts";
import { type RunRecord, runRecord } from "../actions/src/schemas/run-record.ts";
import type { CellRef, Metric } from "../actions/src/schemas/stage.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { cellSet } from "../matrix/cells.ts";
import { loadKnownIssues } from "../matrix/known-issues.ts";
import { loadFarm } from "../matrix/load.ts";
import { type CellReport, outcomeOf } from "../reports/cell-report.ts";
import type { ReportInput } from "../reports/pr-comment.ts";
import { pairedSession } from "./synthetic-sessions.ts";

const FIXTURE = path.join(REPO_ROOT, "tests", "fixtures", "run-records", "host-fp32-portable.json");
const TOKENIZER = path.join(REPO_ROOT, "stages", "models", "tiny-llama", "tokenizer.json");

export const EXAMPLE_RUN_URL = "https://github.com/example/pte-farm/actions/runs/4242424242";
const HEAD_SHA = "5f1c9e07a2b84d3c9e61f0a7d2c4b8e913a6f0d2";
const BASE_SHA = "7c5a6e6fded29de8bb1c0709dcb200f7c8c74347";
const SESSION = "2026-11-24T09-12-03Z-4be1c0";

const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as RunRecord;

const PI5: RunRecord["device"] = {
  runner: "pi5-02",
  board: "raspberry-pi-5-8gb",
  hostname: "pi5-02",
  os: "Debian GNU/Linux 12 (bookworm)",
  kernel: "Linux 6.6.51+rpt-rpi-2712",
  arch: "arm64",
  cpu: "Cortex-A76",
  cpus: 4,
  memory_mb: 8064,
};
const M1: RunRecord["device"] = {
  runner: "m1-01",
  board: "apple-m1",
  hostname: "m1-01",
  os: "macOS 15.5",
  kernel: "Darwin 24.5.0",
  arch: "arm64",
  cpu: "Apple M1",
  cpus: 8,
  memory_mb: 16384,
};
/** aarch64 wheels carry no `+cpu` local version. */
const ARM_VERSIONS = Object.fromEntries(
  Object.entries(fixture.toolchain.device ?? {}).map(([k, v]) => [k, v?.replace("+cpu", "") ?? null]),
);

const samples = (unit: string, better: "higher" | "lower", values: number[]): Metric => ({
  unit,
  better,
  samples: values,
});

/** Each value times (1 + sd × a normal draw): another measurement of the same thing. */
function jitter(rng: ReturnType<typeof seededRng>, values: readonly number[], sd: number): number[] {
  return values.map((v) => Math.round(v * (1 + sd * rng.normal()) * 1e4) / 1e4);
}

/** A record derived from the fixture: another cell, device, role, and the metrics given. */
function derive(opts: {
  ref: CellRef;
  role: RunRecord["role"];
  device?: RunRecord["device"];
  session?: string;
  gitSha?: string;
  startedAt?: string;
  decode?: number[];
  pteBytes?: number;
  bandwidthGbs?: number | null;
  seed?: number;
}): RunRecord {
  const r = structuredClone(fixture);
  r.cell = { id: cellId(opts.ref), ...opts.ref };
  r.role = opts.role;
  r.session = opts.session ?? SESSION;
  r.git_sha = opts.gitSha ?? HEAD_SHA;
  if (opts.startedAt !== undefined) {
    r.started_at = opts.startedAt;
    r.finished_at = new Date(Date.parse(opts.startedAt) + 95_000).toISOString();
  }
  if (opts.device !== undefined) {
    r.device = opts.device;
    r.toolchain = { name: "stable", build: ARM_VERSIONS, device: ARM_VERSIONS };
  }
  if (opts.decode !== undefined) {
    const rng = seededRng(opts.seed ?? 1);
    const n = opts.decode.length;
    const around = (level: number) => pairedSession(rng, 0, n, level).base;
    r.metrics = {
      decode_tokens_per_sec: samples("tok/s", "higher", opts.decode),
      prefill_tokens_per_sec: samples("tok/s", "higher", around(2140)),
      first_token_ms: samples("ms", "lower", around(4.9)),
      model_load_ms: samples("ms", "lower", around(38)),
      peak_rss_mb: samples("MB", "lower", jitter(rng, Array(n).fill(212.4), 0.001)),
      pte_bytes: samples("B", "lower", [opts.pteBytes ?? 1_757_440]),
    };
    r.roofline = roofline(
      median(cleanSamples(r.metrics.decode_tokens_per_sec)),
      opts.pteBytes ?? 1_757_440,
      opts.bandwidthGbs ?? null,
    );
  }
  return parse(runRecord, r, `example record ${r.cell.id}`);
}

const ref = (recipe: string, backend: string, device: string): CellRef => ({
  model: "tiny-llama",
  recipe,
  backend,
  device,
  toolchain: "stable",
});

/** Token pieces from the shipped tokenizer's vocabulary (byte-level BPE: Ġ is a space). */
function pieces(ids: readonly number[]): string[] {
  const vocab = (JSON.parse(readFileSync(TOKENIZER, "utf8")) as { model: { vocab: Record<string, number> } })
    .model.vocab;
  const byId = new Map(Object.entries(vocab).map(([piece, id]) => [id, piece.replaceAll("Ġ", " ")]));
  return ids.map((id) => byId.get(id) ?? `<${id}>`);
}

/** A gate failure: the fixture's tokens, with prompt 1 going its own way from token 17 on. */
function divergedGate(r: RunRecord): RunRecord["gate"] {
  const reference = r.tokens.map((t) => ({
    prompt: t.prompt,
    prompt_ids: t.prompt_ids,
    fp32: { ids: t.reference_ids, pieces: pieces(t.reference_ids), min_margin: 1.2 },
    quantized: { ids: t.reference_ids, pieces: pieces(t.reference_ids), min_margin: 0.9 },
  }));
  const actual = r.tokens.map((t, p) => {
    const ids =
      p === 1 ? [...t.reference_ids.slice(0, 17), 259, 278, 71, 264, 262, 324, 266] : t.reference_ids;
    return { prompt_ids: t.prompt_ids, ids, pieces: pieces(ids) };
  });
  return gateTokens(reference, actual);
}

/** The example report, and what it is meant to show (checked, so the README cannot drift from its caption). */
export async function exampleReport(): Promise<ReportInput> {
  const config = await loadCompareConfig();
  const knownIssues = await loadKnownIssues(KNOWN_ISSUES_FILE);
  const farm = await loadFarm(DEFAULT_MATRIX);
  const cells: CellReport[] = [];

  // 1. The real host record, against a base measured with it: unchanged on a shared VM's 10% threshold.
  {
    const head = structuredClone(fixture);
    head.cell = { ...head.cell, id: cellId({ ...head.cell, device: "host-x86_64" }), device: "host-x86_64" };
    head.session = SESSION;
    head.git_sha = HEAD_SHA;
    const base = structuredClone(head);
    base.role = "base";
    base.git_sha = BASE_SHA;
    const rng = seededRng(41);
    base.metrics = Object.fromEntries(
      Object.entries(head.metrics).map(([name, m]) => [
        name,
        name === "pte_bytes" ? m : { ...m, samples: jitter(rng, m.samples, 0.02) },
      ]),
    );
    cells.push({
      head: parse(runRecord, head, "fixture head"),
      base: parse(runRecord, base, "fixture base"),
      comparison: compareRecords(base, head, config),
    });
  }

  // 2. A regression on the Pi 5, with its last two weeks of nightlies on main.
  {
    const cell = ref("8da4w-g32", "xnnpack", "pi5");
    const s = pairedSession(seededRng(11), 0.08, 16, 620);
    const pi = { device: PI5, pteBytes: 905_216, bandwidthGbs: 17.1 };
    const base = derive({ ref: cell, role: "base", gitSha: BASE_SHA, decode: s.base, seed: 2, ...pi });
    const head = derive({ ref: cell, role: "head", decode: s.head, seed: 3, ...pi });
    const rng = seededRng(5);
    const nightly = Array.from({ length: 14 }, (_, i) =>
      derive({
        ref: cell,
        role: "nightly",
        session: `nightly-${i}`,
        gitSha: BASE_SHA,
        startedAt: new Date(Date.UTC(2026, 10, 10 + i, 3, 0)).toISOString(),
        decode: pairedSession(rng, 0, 8, 620).base,
        seed: 100 + i,
        ...pi,
      }),
    );
    const trend = cellSeries(nightly, cellId(cell), "decode_tokens_per_sec").map((p) => ({
      label: p.started_at.slice(5, 10),
      value: p.value,
    }));
    cells.push({ head, base, comparison: compareRecords(base, head, config), trend });
  }

  // 3. Inconclusive: a small drop, too few reps to call.
  {
    const cell = ref("fp32", "xnnpack", "pi5");
    const s = pairedSession(seededRng(23), 0.04, 6, 355);
    const pi = { device: PI5, pteBytes: 1_757_440, bandwidthGbs: 17.1 };
    const base = derive({ ref: cell, role: "base", gitSha: BASE_SHA, decode: s.base, seed: 6, ...pi });
    const head = derive({ ref: cell, role: "head", decode: s.head, seed: 7, ...pi });
    cells.push({ head, base, comparison: compareRecords(base, head, config) });
  }

  // 4. A lower-stage failure whose log matches a known issue of the catalogue.
  {
    const cell = ref("8da4w-g32", "portable", "pi5");
    const head = derive({ ref: cell, role: "head", device: PI5 });
    const log = [
      "INFO:pte_stages.lower:lowering 8da4w-g32 for backend portable",
      "Traceback (most recent call last):",
      '  File "stages/pte_stages/lower.py", line 212, in main',
      "    program = to_executorch(edge, backend)",
      '  File ".venv/lib/python3.11/site-packages/executorch/exir/program/_program.py", line 1414, in to_executorch',
      "    new_gm_res = p(new_gm)",
      "RuntimeError: Missing out variants: {'torchao::dequantize_affine', 'torchao::choose_qparams_affine'}",
    ].join("\n");
    const t = triage(knownIssues, {
      stage: "lower",
      log,
      toolchain: head.toolchain.device,
      toolchainName: "stable",
      platform: "linux-arm64",
      recipe: { scheme: "8da4w", group_size: 32 },
    });
    head.status = "fail";
    head.metrics = {};
    head.tokens = [];
    head.gate = null;
    head.roofline = null;
    head.stages = head.stages
      .slice(0, 4)
      .map((s) => (s.stage === "lower" ? { ...s, outcome: "stage-failure" as const } : s));
    head.failure = {
      stage: "lower",
      outcome: "stage-failure",
      message: `stage lower failed in executorch ${head.toolchain.build?.executorch}: RuntimeError: Missing out variants: {'torchao::dequantize_affine', 'torchao::choose_qparams_affine'}`,
      known_issue: t.kind === "known" ? t.issue.id : null,
      triage: t.summary,
      reproduce: reproduceCommand({
        python: ".venv/bin/python",
        stage: "lower",
        specInOut: "builds/tiny-llama/lower-8da4w-g32-xnnpack/spec.json",
        cellId: cellId(cell),
      }),
    };
    cells.push({ head: parse(runRecord, head, "example lower failure"), logTail: log });
  }

  // 5. A gate failure: the .pte's tokens leave the quantized reference at token 17 of prompt 1.
  {
    const cell = ref("8da4w-g32", "xnnpack-per-op", "pi5");
    const head = derive({
      ref: cell,
      role: "head",
      device: PI5,
      decode: pairedSession(seededRng(31), 0, 8, 540).base,
      pteBytes: 905_216,
      bandwidthGbs: 17.1,
    });
    head.gate = divergedGate(head);
    head.status = "fail";
    cells.push({ head: parse(runRecord, head, "example gate failure") });
  }

  // 6. An M1 whose execute stage timed out: an infrastructure error, never a regression.
  {
    const cell = ref("fp32", "portable", "m1");
    const head = derive({ ref: cell, role: "head", device: M1 });
    head.status = "timeout";
    head.metrics = {};
    head.gate = null;
    head.roofline = null;
    head.failure = {
      stage: "execute",
      outcome: "timeout",
      message: "stage execute: timeout: timed out after 1800 s; its process group was killed",
      known_issue: null,
      triage: "the stage ran out of time on the device (infrastructure, not the change): rerun the job",
      reproduce: `node actions/src/cli/pte-farm.ts run --no-cache --cells '${cellId(cell)}'`,
    };
    cells.push({ head: parse(runRecord, head, "example timeout") });
  }

  const skipped = cellSet(farm, "nightly").skipped.filter((s) => s.cell.startsWith("tiny-llama/"));
  const shown = cells.map((c) => `${outcomeOf(c)}${c.head.failure?.known_issue ? " (known issue)" : ""}`);
  if (JSON.stringify(shown) !== JSON.stringify(EXPECTED)) {
    throw new Error(`the example no longer shows what the README says it does: ${shown.join(", ")}`);
  }
  return { cells, skipped, knownIssues, runUrl: EXAMPLE_RUN_URL, headSha: HEAD_SHA, baseSha: BASE_SHA };
}

/** The outcomes the example is built to show, in order. */
const EXPECTED = ["unchanged", "regression", "inconclusive", "failed (known issue)", "failed", "infra"];
