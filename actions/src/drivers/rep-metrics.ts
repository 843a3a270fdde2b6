/**
 * Collects a native driver's per-rep values into the run record's metrics: a metric every rep
 * measured becomes samples (flagged where the rep ran hot), one no rep could measure goes to
 * `unavailable` with the reason, and a partly measured one keeps its samples with a note saying
 * how many reps it lacks and why. Nothing is ever filled in.
 */
import type { Metric } from "../schemas/stage.ts";

export type Value = { value: number } | { missing: string };

interface Series {
  unit: string;
  better: "higher" | "lower";
  values: Value[];
  flags: string[][];
}

export class MetricCollector {
  private readonly series = new Map<string, Series>();
  private readonly notes: Record<string, string> = {};
  private readonly unavailable: Record<string, string> = {};

  /** One rep's value of `name`; `flags` are the rep's (e.g. ["hot"]). */
  add(name: string, unit: string, better: "higher" | "lower", value: Value, flags: string[] = []): void {
    let s = this.series.get(name);
    if (s === undefined) {
      s = { unit, better, values: [], flags: [] };
      this.series.set(name, s);
    }
    s.values.push(value);
    s.flags.push([...flags]);
  }

  /** How the driver measured `name`, where that differs from the Python runtime's meaning. */
  note(name: string, text: string): void {
    this.notes[name] = text;
  }

  /** A metric this driver cannot measure at all, and why. */
  cannotMeasure(name: string, why: string): void {
    this.unavailable[name] = why;
  }

  finish(): {
    metrics: Record<string, Metric>;
    unavailable: Record<string, string>;
    notes: Record<string, string>;
  } {
    const metrics: Record<string, Metric> = {};
    const unavailable = { ...this.unavailable };
    const notes = { ...this.notes };
    for (const [name, s] of this.series) {
      const kept = s.values.flatMap((v, i) => ("value" in v ? [{ v: v.value, f: s.flags[i] ?? [] }] : []));
      const firstMissing = s.values.find((v): v is { missing: string } => "missing" in v);
      if (kept.length === 0) {
        unavailable[name] = firstMissing?.missing ?? "no rep measured it";
        delete notes[name];
        continue;
      }
      metrics[name] = {
        unit: s.unit,
        better: s.better,
        samples: kept.map((k) => Number(k.v.toFixed(4))),
        sample_flags: kept.map((k) => k.f),
      };
      if (firstMissing !== undefined) {
        const gap = `${s.values.length - kept.length} of ${s.values.length} reps could not be measured (${firstMissing.missing})`;
        notes[name] = notes[name] === undefined ? gap : `${notes[name]}; ${gap}`;
      }
    }
    return { metrics, unavailable, notes };
  }
}
