/**
 * Synthetic decode tok/s samples modelled on an uncooled Raspberry Pi 5, for bench-compare and the
 * compare tests: 1–4% per-rep noise, thermal drift across the session (an exponential approach to
 * a 3–10% slower steady state), 5–10% of reps slowed 15–40% by something else, and 1–2% offsets
 * between sessions. Seeded: the same seed gives the same samples everywhere.
 */
import type { Rng } from "../actions/src/stats/rng.ts";

export interface SessionPair {
  /** In measurement order; `base[i]` and `head[i]` ran next to each other when paired. */
  base: number[];
  head: number[];
}

interface SessionShape {
  noise: number;
  drift: number;
  tau: number;
  outlierRate: number;
}

function shape(rng: Rng): SessionShape {
  return {
    noise: rng.uniform(0.01, 0.04),
    drift: rng.uniform(0.03, 0.1),
    tau: rng.uniform(8, 40),
    outlierRate: rng.uniform(0.05, 0.1),
  };
}

function rep(rng: Rng, s: SessionShape, t: number, level: number): number {
  const thermal = 1 - s.drift * (1 - Math.exp(-t / s.tau));
  const outlier = rng.next() < s.outlierRate ? 1 - rng.uniform(0.15, 0.4) : 1;
  return level * thermal * outlier * (1 + s.noise * rng.normal());
}

/**
 * Base and head interleaved in one session, ABBA: pair k runs base then head for even k, head then
 * base for odd k, so linear drift cancels over every two pairs. `drop` slows the head (0.05 = 5%).
 */
export function pairedSession(rng: Rng, drop: number, reps: number, level = 10): SessionPair {
  const s = shape(rng);
  const base: number[] = [];
  const head: number[] = [];
  for (let k = 0; k < reps; k++) {
    const first = rep(rng, s, 2 * k, 1);
    const second = rep(rng, s, 2 * k + 1, 1);
    const [b, h] = k % 2 === 0 ? [first, second] : [second, first];
    base.push(level * b);
    head.push(level * (1 - drop) * h);
  }
  return { base, head };
}

/** Base and head each in a session of their own, the head's offset by ±1–2%. */
export function separateSessions(rng: Rng, drop: number, reps: number, level = 10): SessionPair {
  const sb = shape(rng);
  const sh = shape(rng);
  const shift = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.01, 0.02);
  const base: number[] = [];
  const head: number[] = [];
  for (let t = 0; t < reps; t++) base.push(rep(rng, sb, t, level));
  for (let t = 0; t < reps; t++) head.push(rep(rng, sh, t, level * (1 + shift) * (1 - drop)));
  return { base, head };
}
