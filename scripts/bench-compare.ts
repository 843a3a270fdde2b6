/**
 * `make bench-compare`: pte-farm's compare against the rules other tools use, on synthetic Pi-like
 * sessions (scripts/synthetic-sessions.ts: issue 16's noise model and a harsher one), seeded.
 *
 * pte-farm runs exactly the loop of an adaptive session (compare/looks.ts): START_REPS reps per
 * side, then after each look `repsToAdd` more, until it says 0; a regression verdict at any look
 * is an alert, an inconclusive at the cap is not. The same loop runs on separate sessions (the
 * unpaired verdict, with the between-session term). The other rules get a fixed 20 reps per side
 * of the same samples and see them unpaired, as those tools do.
 *
 * BENCH_TRIALS overrides the trials per case (default 2000).
 */
import { DEFAULT_COMPARE_CONFIG, loadCompareConfig, settingsFor } from "../actions/src/compare/config.ts";
import { repsToAdd, START_REPS } from "../actions/src/compare/looks.ts";
import { compareMetric } from "../actions/src/compare/verdicts.ts";
import type { Metric } from "../actions/src/schemas/stage.ts";
import {
  fixedDropAlert,
  mannWhitneyLowerP,
  pinpointAlert,
  ratioThresholdAlert,
  welchLowerP,
} from "../actions/src/stats/baselines.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import {
  abbaSession,
  NOISE_MODELS,
  type NoiseModel,
  type SessionPair,
  separateSessionPair,
} from "./synthetic-sessions.ts";

const TRIALS = Number(process.env.BENCH_TRIALS ?? 2000);
const BASELINE_REPS = 20;
const DROPS = [0, 0.03, 0.05, 0.1] as const;
const METRIC = "decode_tokens_per_sec";
const config = await loadCompareConfig(DEFAULT_COMPARE_CONFIG);
const settings = settingsFor(config, METRIC, "pi5");

type Design = "paired" | "separate";

const metric = (samples: number[]): Metric => ({ unit: "tok/s", better: "higher", samples });

/** The looks.ts loop on one simulated session: alert = a regression verdict at some look. */
export function adaptiveLoop(s: SessionPair, design: Design): { alert: boolean; reps: number } {
  let n = START_REPS;
  for (;;) {
    const m = compareMetric(
      metric(s.base.slice(0, n)),
      metric(s.head.slice(0, n)),
      design === "paired",
      settings,
    );
    if (m.verdict === "regression") return { alert: true, reps: n };
    const more = repsToAdd([m]);
    if (more === 0 || n >= settings.max_reps) return { alert: false, reps: n };
    n = Math.min(settings.max_reps, n + more);
  }
}

const RULES: Record<string, (s: SessionPair) => boolean> = {
  "github-action-benchmark default (alert-threshold 200%)": (s) => ratioThresholdAlert(s.base, s.head, 2),
  "github-action-benchmark at 105% (a 5% threshold on means)": (s) => fixedDropAlert(s.base, s.head, 0.05),
  "Welch t-test (Bencher-style), one-sided α=0.05": (s) => welchLowerP(s.base, s.head) < 0.05,
  "Mann–Whitney U, one-sided α=0.05": (s) => mannWhitneyLowerP(s.base, s.head) < 0.05,
  "Pinpoint (min of KS and MWU p ≤ 0.01)": (s) => pinpointAlert(s.base, s.head),
};

interface Row {
  model: string;
  method: string;
  design: Design;
  rates: number[];
  repsBy: number[] | null;
}

const started = performance.now();
const rows: Row[] = [];
const maxReps = Math.max(settings.max_reps, BASELINE_REPS);
NOISE_MODELS.forEach((model: NoiseModel, mi) => {
  for (const design of ["paired", "separate"] as const) {
    const ours: Row = {
      model: model.name,
      method: "**pte-farm** (sequential)",
      design,
      rates: [],
      repsBy: [],
    };
    const others: Row[] = Object.keys(RULES).map((method) => ({
      model: model.name,
      method,
      design,
      rates: [],
      repsBy: null,
    }));
    DROPS.forEach((drop, di) => {
      const rng = seededRng(10_000 * (mi + 1) + 1000 * (design === "paired" ? 1 : 2) + di);
      let alerts = 0;
      let reps = 0;
      const theirs = others.map(() => 0);
      for (let t = 0; t < TRIALS; t++) {
        const s =
          design === "paired"
            ? abbaSession(rng, model, drop, maxReps)
            : separateSessionPair(rng, model, drop, maxReps);
        const r = adaptiveLoop(s, design);
        if (r.alert) alerts++;
        reps += r.reps;
        const cut = { base: s.base.slice(0, BASELINE_REPS), head: s.head.slice(0, BASELINE_REPS) };
        Object.values(RULES).forEach((rule, i) => {
          if (rule(cut)) theirs[i] = (theirs[i] as number) + 1;
        });
      }
      ours.rates.push(alerts / TRIALS);
      ours.repsBy?.push(reps / TRIALS);
      others.forEach((o, i) => {
        o.rates.push((theirs[i] as number) / TRIALS);
      });
    });
    rows.push(ours, ...others);
  }
});
const seconds = (performance.now() - started) / 1000;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(
  `Synthetic Pi 5 sessions, decode tok/s on pi5 settings (δ ${100 * settings.min_effect}%, confidence ${settings.confidence}, ` +
    `cap ${settings.max_reps}): ${TRIALS} trials per case, seeded. pte-farm: ${START_REPS} reps per side, then ` +
    `repsToAdd after each look; other rules: ${BASELINE_REPS} reps per side, unpaired. ${seconds.toFixed(1)} s on Node ${process.versions.node}.\n`,
);
for (const m of NOISE_MODELS) console.log(`- **${m.name}**: ${m.description}`);
console.log(
  "\n| noise model | method | sessions | false alarms (no change) | 3% drops | 5% drops | 10% drops | reps per side (0 / 3 / 5 / 10%) |",
);
console.log("|---|---|---|---:|---:|---:|---:|---|");
for (const r of rows) {
  const [z, a, b, c] = r.rates.map(pct);
  const reps = r.repsBy === null ? `${BASELINE_REPS} fixed` : r.repsBy.map((x) => x.toFixed(1)).join(" / ");
  console.log(`| ${r.model} | ${r.method} | ${r.design} | ${z} | ${a} | ${b} | ${c} | ${reps} |`);
}
const ourRows = rows.filter((r) => r.method.startsWith("**pte-farm**"));
const paired = ourRows.filter((r) => r.design === "paired");
const separate = ourRows.filter((r) => r.design === "separate");
const ok =
  paired.every(
    (r) => (r.rates[0] as number) <= 0.01 && (r.rates[2] as number) >= 0.9 && (r.repsBy?.[2] as number) <= 20,
  ) && separate.every((r) => (r.rates[0] as number) <= 0.02);
console.log(
  `\ntargets (each noise model): paired ≤1% false alarms and ≥90% of 5% drops found with ≤20 reps per side on average; ` +
    `separate ≤2% false alarms: ${ok ? "all met" : "NOT all met"}`,
);
