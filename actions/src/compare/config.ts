/**
 * The compare settings (`matrix/compare.yml`): per metric and device, the minimum effect of
 * interest and the between-session spread, plus the CI's confidence and the reps cap. Percentages
 * in the file, fractions in code.
 */
import path from "node:path";
import { readYamlFile } from "../../../matrix/yaml-file.ts";
import { REPO_ROOT } from "../core/paths.ts";
import { closed, type Infer, literal, nonNegInt, num, optional, record, refine } from "../core/validate.ts";

export const DEFAULT_COMPARE_CONFIG = path.join(REPO_ROOT, "matrix", "compare.yml");

const pct = refine(num, (n) => (n >= 0 && n < 100 ? null : { path: [], message: "must be in [0, 100)" }));
const knobs = { min_effect_pct: optional(pct), between_session_pct: optional(pct) };
const metricKnobs = closed(knobs);

export const compareConfigSchema = closed({
  schema: literal("pte-farm/compare@1"),
  confidence: refine(num, (c) => (c > 0.5 && c < 1 ? null : { path: [], message: "must be in (0.5, 1)" })),
  max_reps: refine(nonNegInt, (n) => (n >= 2 ? null : { path: [], message: "must be at least 2" })),
  defaults: closed({ min_effect_pct: pct, between_session_pct: pct }),
  metrics: optional(record(metricKnobs)),
  devices: optional(record(closed({ ...knobs, metrics: optional(record(metricKnobs)) }))),
});
export type CompareConfig = Infer<typeof compareConfigSchema>;

/**
 * Reps per side of an adaptive session's first block (compare/looks.ts re-exports it), and the
 * first look the sequential intervals allow a verdict at (stats/sequential.ts).
 */
export const START_REPS = 10;

/** What decide() needs for one metric on one device, as fractions. */
export interface MetricSettings {
  min_effect: number;
  /** SD of the log offset between two sessions (0.015 ≈ 1.5%). */
  between_session: number;
  confidence: number;
  max_reps: number;
}

/** The built-in settings for decode tok/s on a Pi-like device (what bench-compare uses). */
export const DEFAULT_COMPARE_SETTINGS: MetricSettings = {
  min_effect: 0.03,
  between_session: 0.015,
  confidence: 0.99,
  max_reps: 32,
};

export function settingsFor(config: CompareConfig, metric: string, device: string): MetricSettings {
  const dev = config.devices?.[device];
  const layers = [config.defaults, config.metrics?.[metric], dev, dev?.metrics?.[metric]];
  let minPct = config.defaults.min_effect_pct;
  let betweenPct = config.defaults.between_session_pct;
  for (const l of layers) {
    if (l?.min_effect_pct !== undefined) minPct = l.min_effect_pct;
    if (l?.between_session_pct !== undefined) betweenPct = l.between_session_pct;
  }
  return {
    min_effect: minPct / 100,
    between_session: betweenPct / 100,
    confidence: config.confidence,
    max_reps: config.max_reps,
  };
}

export async function loadCompareConfig(file: string = DEFAULT_COMPARE_CONFIG): Promise<CompareConfig> {
  return (await readYamlFile(file, compareConfigSchema, "compare config")).data;
}
