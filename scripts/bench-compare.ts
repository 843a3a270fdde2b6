/**
 * `make bench-compare`: pte-farm's compare against the rules other tools use, on synthetic Pi-like
 * sessions (scripts/synthetic-sessions.ts), seeded. pte-farm runs adaptively: 8 reps per side,
 * then as many more as `more_samples` asks for, up to the cap; an inconclusive at the cap counts
 * as not detected. The other rules get a fixed 20 reps per side (pte-farm's target budget) and
 * see the samples unpaired, as those tools do.
 */
import { DEFAULT_COMPARE_SETTINGS } from "../actions/src/compare/config.ts";
import {
  fixedDropAlert,
  mannWhitneyLowerP,
  ratioThresholdAlert,
  welchLowerP,
} from "../actions/src/stats/baselines.ts";
import { decide } from "../actions/src/stats/decide.ts";
import { pairedLogEffect } from "../actions/src/stats/paired.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { unpairedLogEffect } from "../actions/src/stats/unpaired.ts";
import { pairedSession, type SessionPair, separateSessions } from "./synthetic-sessions.ts";

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10_000);
const START_REPS = 8;
const BASELINE_REPS = 20;
const DROPS = [0, 0.05, 0.1] as const;
const settings = DEFAULT_COMPARE_SETTINGS;

type Design = "paired" | "separate";

function pteFarm(s: SessionPair, design: Design): { alert: boolean; reps: number } {
  let n = START_REPS;
  for (;;) {
    const base = s.base.slice(0, n);
    const head = s.head.slice(0, n);
    const effect = design === "paired" ? pairedLogEffect(base, head) : unpairedLogEffect(base, head);
    const d = decide(effect, {
      better: "higher",
      minEffect: settings.min_effect,
      confidence: settings.confidence,
      betweenSd: design === "paired" ? 0 : settings.between_session,
      maxReps: settings.max_reps,
    });
    if (d.verdict !== "inconclusive" || d.more_samples === 0)
      return { alert: d.verdict === "regression", reps: n };
    n += d.more_samples;
  }
}

const RULES: Record<string, (s: SessionPair) => boolean> = {
  "github-action-benchmark default (200% ratio)": (s) => ratioThresholdAlert(s.base, s.head, 2),
  "fixed 5% threshold on means": (s) => fixedDropAlert(s.base, s.head, 0.05),
  "Welch t-test (Bencher-style), one-sided α=0.05": (s) => welchLowerP(s.base, s.head) < 0.05,
  "Mann–Whitney U, one-sided α=0.05": (s) => mannWhitneyLowerP(s.base, s.head) < 0.05,
};

interface Row {
  method: string;
  design: Design;
  rates: number[];
  reps: number;
  repsBy: number[];
}

const started = performance.now();
const rows: Row[] = [];
for (const design of ["paired", "separate"] as const) {
  const gen = design === "paired" ? pairedSession : separateSessions;
  const ours: Row = {
    method: "**pte-farm** (adaptive, 99% CI, δ 3%)",
    design,
    rates: [],
    reps: 0,
    repsBy: [],
  };
  const others = Object.keys(RULES).map((method) => ({
    method,
    design,
    rates: [] as number[],
    reps: BASELINE_REPS,
    repsBy: [] as number[],
  }));
  let repsTotal = 0;
  DROPS.forEach((drop, di) => {
    const rng = seededRng(1000 * (design === "paired" ? 1 : 2) + di);
    let ourAlerts = 0;
    let scenarioReps = 0;
    const alerts = others.map(() => 0);
    for (let t = 0; t < TRIALS; t++) {
      const s = gen(rng, drop, Math.max(settings.max_reps, BASELINE_REPS));
      const r = pteFarm(s, design);
      if (r.alert) ourAlerts++;
      repsTotal += r.reps;
      scenarioReps += r.reps;
      const cut = { base: s.base.slice(0, BASELINE_REPS), head: s.head.slice(0, BASELINE_REPS) };
      Object.values(RULES).forEach((rule, i) => {
        if (rule(cut)) alerts[i] = (alerts[i] as number) + 1;
      });
    }
    ours.rates.push(ourAlerts / TRIALS);
    ours.repsBy.push(scenarioReps / TRIALS);
    others.forEach((o, i) => {
      o.rates.push((alerts[i] as number) / TRIALS);
    });
  });
  ours.reps = repsTotal / (TRIALS * DROPS.length);
  rows.push(ours, ...others);
}
const seconds = (performance.now() - started) / 1000;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(
  `Synthetic uncooled-Pi sessions: ${TRIALS} trials per scenario, seeded; pte-farm starts at ${START_REPS} reps ` +
    `per side, cap ${settings.max_reps}; other rules use ${BASELINE_REPS} reps per side. ${seconds.toFixed(1)} s.\n`,
);
console.log(
  "| method | sessions | false alarms (no change) | 5% drops detected | 10% drops detected | avg reps per side | (no change / 5% / 10%) |",
);
console.log("|---|---|---:|---:|---:|---:|---|");
for (const r of rows) {
  console.log(
    `| ${r.method} | ${r.design} | ${pct(r.rates[0] as number)} | ${pct(r.rates[1] as number)} | ${pct(r.rates[2] as number)} | ${r.reps.toFixed(1)} | ${r.repsBy.length === 0 ? "fixed" : r.repsBy.map((x) => x.toFixed(1)).join(" / ")} |`,
  );
}
console.log(
  "\ntargets: paired ≤1% false alarms, ≥90% of 5% and ≥99% of 10% drops, ≤20 reps per side; separate ≤2% false alarms",
);
