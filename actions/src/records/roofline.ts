/**
 * Decode speed as a fraction of the device's memory-bandwidth bound. Decoding one token of a
 * decoder LM reads every weight once, so tokens/s cannot exceed bandwidth / bytes-per-token.
 *
 * Bytes per token is approximated by the `.pte`'s size: the file is almost all weights (the
 * program and delegate headers are kilobytes), it is what the manifest already records, and the
 * KV cache read per token is small next to the weights at the context lengths we gate on. The
 * approximation overstates bytes for tiny models (headers weigh more), so their fraction reads low.
 */
import type { Roofline } from "../schemas/run-record.ts";

/** null when the device's bandwidth is unknown (null in farm.yml) or the size is missing. */
export function roofline(
  decodeTokensPerSec: number | null,
  pteBytes: number | null,
  bandwidthGbs: number | null,
): Roofline | null {
  if (bandwidthGbs === null || bandwidthGbs <= 0 || pteBytes === null || pteBytes <= 0) return null;
  const bound = (bandwidthGbs * 1e9) / pteBytes;
  return {
    bytes_per_token: pteBytes,
    bandwidth_gbs: bandwidthGbs,
    bound_tokens_per_sec: round(bound, 2),
    fraction: decodeTokensPerSec === null ? null : round(decodeTokensPerSec / bound, 4),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
