/**
 * What makes a bisection step good or bad. For a failure (a gate or a stage), the bad lock's
 * failure — its stage and signature — is the thing bisected: the same failure is bad, a pass is
 * good, another failure is skipped. For a speed regression (`--metric`), a step's samples are
 * compared with the good lock's by the farm's own statistics (compare/verdicts.ts, the thresholds
 * of matrix/compare.yml for the cell's device): a regression is bad, unchanged or better is good,
 * inconclusive is skipped; the good lock is measured again at each step, right before the step, so
 * the two sessions are neighbours in time.
 */
import { loadCompareConfig, settingsFor } from "../compare/config.ts";
import { compareMetric } from "../compare/verdicts.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Metric } from "../schemas/stage.ts";
import type { Observation } from "./probes.ts";
import type { StepResult } from "./search.ts";

export interface Judge {
  /** The bad side's evidence, for the record. */
  evidence: { stage: string | null; signature: string | null; detail: string };
  classify(o: Observation, goodAgain: Observation | null): StepResult;
  /** Whether each step re-measures the good lock beside it (speed). */
  remeasureGood: boolean;
}

const first = (text: string) => text.split("\n")[0] ?? "";

function common(o: Observation): StepResult | null {
  if (o.outcome === "infra") return { verdict: "retry", reason: first(o.detail) };
  if (o.outcome === "incompatible") return { verdict: "skip", reason: `untestable: ${first(o.detail)}` };
  return null;
}

export function failureJudge(
  subject: string,
  goodId: string,
  badId: string,
  good: Observation,
  bad: Observation,
): Judge {
  if (good.outcome !== "pass") {
    throw new ConfigurationError(
      `bisect: the good lock ${goodId} does not pass ${subject} (${good.outcome}: ${first(good.detail)}); pass a lock where it passes as --good`,
    );
  }
  if (bad.outcome !== "fail") {
    throw new ConfigurationError(
      `bisect: the bad lock ${badId} does not fail ${subject} (${bad.outcome}: ${first(bad.detail)}); pass a lock where it fails as --bad, or --metric NAME for a speed regression`,
    );
  }
  return {
    evidence: { stage: bad.stage, signature: bad.signature, detail: bad.detail },
    remeasureGood: false,
    classify(o) {
      const c = common(o);
      if (c !== null) return c;
      if (o.outcome === "pass") return { verdict: "good", reason: "passed" };
      if (o.stage === bad.stage && o.signature === bad.signature)
        return { verdict: "bad", reason: `${o.stage}: ${o.signature}` };
      return {
        verdict: "skip",
        reason: `fails differently (${o.stage}: ${o.signature}), not the failure bisected`,
      };
    },
  };
}

function metricOf(o: Observation, name: string, side: string): Metric {
  const m = o.metrics?.[name];
  if (m === undefined) {
    throw new ConfigurationError(
      `bisect --metric ${name}: the ${side} run measured no ${name} (it has: ${Object.keys(o.metrics ?? {}).join(", ") || "none"})`,
    );
  }
  return m;
}

export async function speedJudge(
  subject: string,
  metric: string,
  device: string,
  good: Observation,
  bad: Observation,
  ids: { good: string; bad: string },
): Promise<Judge> {
  for (const [side, o, id] of [
    ["good", good, ids.good],
    ["bad", bad, ids.bad],
  ] as const) {
    if (o.outcome !== "pass") {
      throw new ConfigurationError(
        `bisect --metric ${metric}: the ${side} lock ${id} does not pass ${subject} (${o.outcome}: ${first(o.detail)}); a speed bisection needs both ends to pass`,
      );
    }
  }
  const settings = settingsFor(await loadCompareConfig(), metric, device);
  const verdictOf = (base: Metric, head: Metric) => compareMetric(base, head, false, settings);
  const endpoints = verdictOf(metricOf(good, metric, "good"), metricOf(bad, metric, "bad"));
  const shown = (c: ReturnType<typeof verdictOf>) =>
    c.ratio === null
      ? c.verdict
      : `${c.verdict}: ×${c.ratio.toFixed(3)}${c.ci === null ? "" : ` (${(settings.confidence * 100).toFixed(0)}% CI ×${c.ci[0].toFixed(3)}…×${c.ci[1].toFixed(3)})`}`;
  if (endpoints.verdict !== "regression") {
    throw new ConfigurationError(
      `bisect --metric ${metric}: the bad lock is not a regression against the good one (${shown(endpoints)}); nothing to bisect`,
    );
  }
  return {
    evidence: {
      stage: "execute",
      signature: `${metric} regression`,
      detail: `bad against good: ${shown(endpoints)}`,
    },
    remeasureGood: true,
    classify(o, goodAgain) {
      const c = common(o) ?? (goodAgain === null ? null : common(goodAgain));
      if (c !== null) return c;
      if (o.outcome !== "pass")
        return {
          verdict: "skip",
          reason: `fails (${o.stage}: ${o.signature}), not the speed change bisected`,
        };
      const base = metricOf(goodAgain ?? good, metric, "good");
      const cmp = verdictOf(base, metricOf(o, metric, "step"));
      if (cmp.verdict === "regression") return { verdict: "bad", reason: shown(cmp) };
      if (cmp.verdict === "inconclusive") return { verdict: "skip", reason: `speed ${shown(cmp)}` };
      return { verdict: "good", reason: shown(cmp) };
    },
  };
}
